test -d build || mkdir build
