chmod -R u+w ./build
