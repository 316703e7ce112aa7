for f in *.sh; do bash "$f"; done
