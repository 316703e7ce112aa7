import os

def backup():
    os.system('tar czf backup.tgz data')

backup()
