shred -u secrets.txt
