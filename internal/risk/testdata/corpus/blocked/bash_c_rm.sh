bash -c "rm -rf ~/"
