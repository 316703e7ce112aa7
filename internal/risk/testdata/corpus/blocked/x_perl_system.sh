perl -e 'system("sudo id")'
