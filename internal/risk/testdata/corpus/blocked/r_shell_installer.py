"""Install the 'proj' helper for the current user."""
import os
import stat
import textwrap

HELPER = textwrap.dedent("""
    #!/bin/sh
    echo "proj $*"
""").lstrip()


def write_helper(path):
    with open(path, "w") as f:
        f.write(HELPER)
    os.chmod(path, stat.S_IRWXU)


def add_to_path(bindir):
    rc = os.path.expanduser("~/.bashrc")
    with open(rc, "a") as f:
        f.write(f"\nexport PATH=\"{bindir}:$PATH\"\n")


def main():
    bindir = os.path.join(os.getcwd(), "bin")
    os.makedirs(bindir, exist_ok=True)
    helper = os.path.join(bindir, "proj")
    write_helper(helper)
    add_to_path(bindir)
    print("installed", helper)


if __name__ == "__main__":
    main()
