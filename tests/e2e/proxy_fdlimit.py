#!/usr/bin/env python3
"""Drive a proxy that runs at its descriptor limit; print what was measured.

usage: proxy_fdlimit.py PORT PROXY_PID PROXY_LOG EXTRA HOLD_SECONDS

  1. connection A sends GET / (keep-alive); connection B is opened, unused
  2. EXTRA more connections are opened and held, idle, for HOLD_SECONDS
     (the proxy runs out of descriptors or reaches its connection limit)
  3. while they are held: GET / on A; then GET /slow?ms=1500 on A and,
     while A waits for it, GET / on B (it needs a new upstream connection)
  4. the extra connections close; a new connection sends GET /

Prints key=value lines: a_before, a_during, a_slow, b_during, after (HTTP
status, or "error: ..."), log_lines (lines in PROXY_LOG at the end),
cpu_ticks (the proxy's user+system clock ticks while the connections were
held, HOLD_SECONDS long), ticks_per_second.
"""
import http.client, os, socket, sys, time

PORT, PID, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
EXTRA, HOLD = int(sys.argv[4]), float(sys.argv[5])


def cpu_ticks():
    with open("/proc/%d/stat" % PID) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def log_lines():
    with open(LOG, "rb") as f:
        return sum(1 for _ in f)


def conn():
    return http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)


def status(c, path="/", send=True, read=True):
    try:
        if send:
            c.request("GET", path)
        if not read:
            return "sent"
        r = c.getresponse()
        r.read()
        return str(r.status)
    except Exception as e:  # a refusal is a result too
        return "error: %s" % e.__class__.__name__


out = {}
a, b = conn(), conn()
out["a_before"] = status(a)
b.connect()
extra = []
for _ in range(EXTRA):
    s = socket.socket()
    s.settimeout(5)
    s.connect(("127.0.0.1", PORT))
    extra.append(s)
time.sleep(0.5)  # the proxy takes what it can
t0 = cpu_ticks()
time.sleep(HOLD)
out["cpu_ticks"] = cpu_ticks() - t0
out["a_during"] = status(a)
status(a, "/slow?ms=1500", read=False)
time.sleep(0.2)
out["b_during"] = status(b)
out["a_slow"] = status(a, send=False)
for s in extra:
    s.close()
time.sleep(1)
out["after"] = status(conn())
out["log_lines"] = log_lines()
out["ticks_per_second"] = os.sysconf("SC_CLK_TCK")
for k, v in out.items():
    print("%s=%s" % (k, v))
