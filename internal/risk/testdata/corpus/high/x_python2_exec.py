exec "print 1"
