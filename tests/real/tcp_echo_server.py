"""socketserver.ThreadingTCPServer echoing what it receives: a thread per
connection, blocking recv and sendall. Prints "port N" once listening;
serves until killed."""
import socketserver
import sys


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.request.sendall(data)


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


with Server(("127.0.0.1", 0), Echo) as server:
    print("port", server.server_address[1], flush=True)
    server.serve_forever()
