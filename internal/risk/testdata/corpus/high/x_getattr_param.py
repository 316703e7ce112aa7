import subprocess

def call(name):
    return getattr(subprocess, name)
