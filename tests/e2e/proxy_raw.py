#!/usr/bin/env python3
"""Send raw bytes (stdin) to 127.0.0.1:PORT and print what comes back.

usage: proxy_raw.py PORT [--slow SECONDS] [--timeout SECONDS]
Prints each status line received, then "closed" when the server closed the
connection or "open" when it was still open at the timeout. With --slow,
the input is sent one byte every SECONDS (a slowloris client).
"""
import re, socket, sys, time

port = int(sys.argv[1])
slow = float(sys.argv[sys.argv.index("--slow") + 1]) if "--slow" in sys.argv else 0
timeout = float(sys.argv[sys.argv.index("--timeout") + 1]) if "--timeout" in sys.argv else 3
data = sys.stdin.buffer.read()
s = socket.create_connection(("127.0.0.1", port))
try:
    if slow:
        for b in data:
            s.sendall(bytes([b]))
            time.sleep(slow)
    else:
        s.sendall(data)
except OSError:
    pass
s.settimeout(timeout)
got = b""
state = "open"
try:
    while True:
        c = s.recv(65536)
        if not c:
            state = "closed"
            break
        got += c
except socket.timeout:
    pass
except OSError:
    state = "closed"
# status lines anywhere: a body without a final newline runs into the next response
for line in re.findall(rb"HTTP/1\.[01] [0-9]{3}[^\r\n]*", got):
    print(line.decode())
print(state)
