echo "result" > out.txt
cat out.txt >> all.txt
