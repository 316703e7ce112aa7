kill -9 1234
