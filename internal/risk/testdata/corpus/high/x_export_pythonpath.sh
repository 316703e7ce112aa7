export PYTHONPATH=/opt/lib
