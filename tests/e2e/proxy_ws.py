#!/usr/bin/env python3
"""WebSocket client for the proxy tests.

usage: proxy_ws.py PORT SECONDS INTERVAL_MS
Opens ws://127.0.0.1:PORT/ws, prints "open", then sends a text frame every
INTERVAL_MS for SECONDS and prints each reply ("v1:msg3") with a timestamp;
prints "closed after N.Ns" when the server closes, or "done" at the end.
"""
import base64, os, socket, sys, time

port, seconds, interval = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]) / 1000
s = socket.create_connection(("127.0.0.1", port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % key).encode())
head = b""
while b"\r\n\r\n" not in head:
    c = s.recv(1)
    if not c:
        print("no handshake"); sys.exit(1)
    head += c
if not head.startswith(b"HTTP/1.1 101"):
    print("refused: " + head.split(b"\r\n")[0].decode()); sys.exit(1)
print("open", flush=True)
start = time.time()
i = 0
while time.time() - start < seconds:
    i += 1
    msg = ("msg%d" % i).encode()
    mask = os.urandom(4)
    try:
        s.sendall(bytes([0x81, 0x80 | len(msg)]) + mask + bytes(b ^ mask[k % 4] for k, b in enumerate(msg)))
        h = s.recv(2)
        if len(h) < 2:
            raise ConnectionError
        data = b""
        while len(data) < (h[1] & 127):
            more = s.recv((h[1] & 127) - len(data))
            if not more:
                raise ConnectionError
            data += more
        print("%.2f %s" % (time.time() - start, data.decode()), flush=True)
    except (ConnectionError, OSError):
        print("closed after %.1fs" % (time.time() - start), flush=True)
        sys.exit(0)
    time.sleep(interval)
print("done", flush=True)
