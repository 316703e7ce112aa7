import socket
srv = socket.create_server(('', 8080))
srv.accept()
