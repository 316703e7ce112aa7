LD_PRELOAD=./hook.so cat file.txt
