#!/usr/bin/env python3
"""Switch a proxy between two backend servers every 200 ms through its
runtime API, from one long-lived process (starting a process per switch
would cost more CPU than the switch itself on a small machine).

usage: proxy-switch.py haproxy SOCKET SECONDS
       proxy-switch.py cutover SOCKET SECONDS PORT1 PORT2

haproxy: 'set server be/sN state ready|maint' on the stats socket.
cutover: POST /deploy on the admin socket (health check, switch, drain:
         the same operation as 'cutover proxy deploy'), answer read to the end.
Prints the number of switches that succeeded; problems go to stderr.
"""
import socket
import sys
import time


def haproxy_switch(path, i):
    on, off = ("s2", "s1") if i % 2 else ("s1", "s2")
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b"set server be/%s state ready; set server be/%s state maint\n" % (on.encode(), off.encode()))
    out = s.recv(4096).strip()
    s.close()
    if out:
        return "haproxy said: " + out.decode(errors="replace")
    return None


def cutover_switch(path, i, ports):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    q = "service=app&target=127.0.0.1:%s&interval=10ms&successes=1&drain=5s" % ports[i % 2]
    s.sendall(b"POST /deploy?%s HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\n\r\n" % q.encode())
    out = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        out += d
    s.close()
    if not out.rstrip().endswith(b"exit: 0"):
        return "cutover said: " + out.decode(errors="replace")
    return None


def main():
    kind, path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    n, i, end = 0, 0, time.time() + seconds
    while time.time() < end:
        i += 1
        if kind == "haproxy":
            problem = haproxy_switch(path, i)
        else:
            problem = cutover_switch(path, i, sys.argv[4:6])
        if problem:
            print(problem, file=sys.stderr)
        else:
            n += 1
        time.sleep(0.2)
    print(n)


main()
