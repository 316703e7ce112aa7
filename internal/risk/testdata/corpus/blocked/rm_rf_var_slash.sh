rm -rf "/$TARGET"
