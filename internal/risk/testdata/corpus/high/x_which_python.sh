$(which python3) script.py
