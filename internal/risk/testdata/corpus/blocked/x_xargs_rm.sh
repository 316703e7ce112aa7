xargs -I {} rm -rf / < list.txt
