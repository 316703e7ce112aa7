printf 'a\nb\n' | sed -e 's/a/e/g' -e '/b/d'
