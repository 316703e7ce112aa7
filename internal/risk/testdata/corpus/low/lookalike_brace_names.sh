echo {a,b,c}.txt
mkdir -p out/{logs,data}
