rm -rf "${HOME:?}/"
