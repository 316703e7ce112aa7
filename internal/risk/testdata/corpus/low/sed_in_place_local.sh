sed -i 's/foo/bar/g' notes.txt
