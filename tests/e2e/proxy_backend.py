#!/usr/bin/env python3
"""A small HTTP/1.1 backend for the proxy tests; answers with its version.

usage: proxy_backend.py PORT VERSION [--unhealthy] [--idle-close S] [--drop-reused] [--log-requests]
  --idle-close S   close a keep-alive connection after S seconds without a request
  --drop-reused    answer the first request of each connection; read any
                   later one (its Content-Length body too), close without
                   answering, and print
                   "dropped METHOD PATH" (a server closing as a request arrives)
  --log-requests   print "served METHOD PATH" for every request it parses
  GET /            "VERSION\n"
  GET /up          200 (503 with --unhealthy)
  GET /slow?ms=N   waits N ms, then "VERSION\n"
  POST /echo       the request body back (Content-Length or chunked in); PUT too
  GET /chunked     a chunked response
  GET /trailers    a chunked response with trailer fields (X-Checksum; and a
                   Content-Length and a malformed name, which no proxy may pass on)
  POST /trailers   the trailer fields of a chunked request, one per line
  GET /ws          WebSocket echo (text frames), each reply prefixed "VERSION:"
  GET /headers     the request headers back
  GET /conn-listed "abc" with Content-Length and "Connection: Content-Length"
  GET /page        an HTML page "version=VERSION" that loads 12 assets
                   (/asset/N.js|css|png?ms=M, 20-50 ms each)
  GET /asset/...   waits ?ms=M, then "VERSION"
                   (/page and /asset/ also say "X-Version: VERSION": a real
                   browser keeps no body of an image it cannot decode)
  GET /stream?ms=N "VERSION\n" with Content-Length: its head and first byte at
                   once, the rest N ms later
"""
import base64, hashlib, socket, socketserver, sys, threading, time
from http.server import BaseHTTPRequestHandler

PORT = int(sys.argv[1])
VERSION = sys.argv[2]
UNHEALTHY = "--unhealthy" in sys.argv
DROP_REUSED = "--drop-reused" in sys.argv
LOG_REQUESTS = "--log-requests" in sys.argv
IDLE_CLOSE = float(sys.argv[sys.argv.index("--idle-close") + 1]) if "--idle-close" in sys.argv else None


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CLOSE

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        self.served = 0

    def parse_request(self):
        if not super().parse_request():
            return False
        self.served += 1
        if LOG_REQUESTS:
            print("served %s %s" % (self.command, self.path), flush=True)
        if DROP_REUSED and self.served > 1:
            # take the whole request in first, as a server that dies while serving it would
            n = int(self.headers.get("Content-Length", "0"))
            if n:
                self.rfile.read(n)
            print("dropped %s %s" % (self.command, self.path), flush=True)
            self.close_connection = True
            return False
        return True

    def send(self, code, body, ctype="text/plain", headers=()):
        b = body.encode() if isinstance(body, str) else body
        self.send_response(code)
        for kv in headers:
            self.send_header(*kv)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(b)

    def read_body(self):
        self.trailers = []
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                line = self.rfile.readline().strip()
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    while True:
                        t = self.rfile.readline()
                        if t in (b"\r\n", b"\n", b""):
                            return out
                        self.trailers.append(t.decode().strip())
                out += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/up":
            return self.send(503 if UNHEALTHY else 200, "down\n" if UNHEALTHY else "ok\n")
        if path == "/slow":
            ms = int(self.path.split("ms=")[1]) if "ms=" in self.path else 1000
            time.sleep(ms / 1000)
            return self.send(200, VERSION + "\n")
        if path == "/headers":
            return self.send(200, "".join("%s: %s\n" % kv for kv in self.headers.items()))
        if path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (VERSION, "-part2", "-end\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part.encode()))
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")
            return
        if path == "/trailers":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Checksum")
            self.end_headers()
            self.wfile.write(b"3\r\nabc\r\n0\r\nX-Checksum: 42\r\nContent-Length: 99\r\nBad Name: 1\r\n\r\n")
            return
        if path == "/page":
            tags = ('<script src="%s"></script>', '<link rel="stylesheet" href="%s">', '<img src="%s" alt="">')
            exts = ("js", "css", "png")
            links = "".join(tags[i % 3] % ("/asset/%d.%s?ms=%d" % (i, exts[i % 3], 20 + (i * 7) % 31)) + "\n"
                            for i in range(12))
            return self.send(200, "<!doctype html><html><head><title>%s</title></head><body><p>version=%s</p>\n%s"
                             "</body></html>\n" % (VERSION, VERSION, links), "text/html",
                             [("X-Version", VERSION)])
        if path.startswith("/asset/"):
            ms = int(self.path.split("ms=")[1]) if "ms=" in self.path else 20
            time.sleep(ms / 1000)
            return self.send(200, VERSION, headers=[("X-Version", VERSION)])
        if path == "/stream":
            ms = int(self.path.split("ms=")[1]) if "ms=" in self.path else 1000
            body = (VERSION + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:1])
            self.wfile.flush()
            time.sleep(ms / 1000)
            self.wfile.write(body[1:])
            return
        if path == "/conn-listed":
            # a response that names its own framing field in Connection
            self.send_response(200)
            self.send_header("Connection", "Content-Length")
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"abc")
            return
        if path == "/ws":
            return self.websocket()
        return self.send(200, VERSION + "\n")

    def do_POST(self):
        body = self.read_body()
        if self.path == "/trailers":
            # the request's trailer fields, one per line
            return self.send(200, "".join(t + "\n" for t in self.trailers))
        return self.send(200, body, "application/octet-stream")

    do_PUT = do_POST

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        acc = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", acc)
        self.end_headers()
        self.wfile.flush()
        r = self.rfile
        while True:
            h = r.read(2)
            if len(h) < 2:
                return
            op, ln = h[0] & 15, h[1] & 127
            if ln == 126:
                ln = int.from_bytes(r.read(2), "big")
            elif ln == 127:
                ln = int.from_bytes(r.read(8), "big")
            mask = r.read(4) if h[1] & 128 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(r.read(ln)))
            if op == 8:
                self.wfile.write(b"\x88\x00")
                return
            reply = (VERSION + ":").encode() + data
            self.wfile.write(bytes([0x81, len(reply)]) + reply)
            self.wfile.flush()


class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256


S(("127.0.0.1", PORT), H).serve_forever()
