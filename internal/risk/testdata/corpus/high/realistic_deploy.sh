#!/bin/bash
# Build the static site and copy it to the web host.
set -euo pipefail

SRC=site
OUT=public

clean() {
  rm -f "$OUT"/*.html
}

render() {
  for page in "$SRC"/*.md; do
    name=$(basename "$page" .md)
    {
      echo "<html><body>"
      sed 's/^# \(.*\)/<h1>\1<\/h1>/' "$page"
      echo "</body></html>"
    } > "$OUT/$name.html"
  done
}

index() {
  ls "$OUT" | grep '\.html$' | sort > "$OUT/index.txt"
}

echo "rendering"
clean
render
index
rsync -av "$OUT/" deploy@web.example.com:/srv/www/
echo "pages: $(wc -l < "$OUT/index.txt")"
echo "done"
