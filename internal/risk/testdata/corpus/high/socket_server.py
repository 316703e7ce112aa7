import socketserver

class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(self.request.recv(1024))

socketserver.TCPServer(("0.0.0.0", 9000), Echo).serve_forever()
