rm -rf ..
