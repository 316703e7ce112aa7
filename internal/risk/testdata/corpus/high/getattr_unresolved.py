import os
name = input("function? ")
getattr(os, name)()
