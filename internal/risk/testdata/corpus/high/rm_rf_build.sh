rm -rf build/
