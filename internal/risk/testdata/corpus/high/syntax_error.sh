if [ -f x ]; then
  echo missing fi
