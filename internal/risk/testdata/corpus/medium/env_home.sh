echo "home is $HOME"
