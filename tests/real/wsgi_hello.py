"""wsgiref serving "Hello, world" with a thread per request
(socketserver.ThreadingMixIn), the seed benchmark of the gevent articles.
Prints "port N" once listening; serves until killed."""
import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello, world\n"]


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 1024


with make_server("127.0.0.1", 0, app, ThreadingWSGIServer, Quiet) as server:
    print("port", server.server_port, flush=True)
    server.serve_forever()
