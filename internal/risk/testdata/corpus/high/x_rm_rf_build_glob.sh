rm -rf ./build/*
