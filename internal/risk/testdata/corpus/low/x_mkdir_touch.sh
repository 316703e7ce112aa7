mkdir -p out && touch out/a && cp out/a out/b && mv out/b out/c
