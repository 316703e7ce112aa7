sed -n '1,5p' notes.txt
