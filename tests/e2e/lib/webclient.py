#!/usr/bin/env python3
"""HTTP clients for the web-server e2e tests (python3 standard library only).

  webclient.py poll URL --stop-file F --events FILE [--threads N] [--grace S]
      Requests URL in a loop from N threads until F exists, then judges every
      response against EVENTS, lines of "<start> <return> <build>": the unix
      times a deploy started and returned, and the build it made live.
      A response counts as an error when its status is not 200 or the request
      failed; it is a violation when it started at least GRACE seconds after a
      deploy returned (and before the next one started) but does not show that
      deploy's build ("build=<name>" in the body).

  webclient.py browse URL --stop-file F [--browsers N]
      Like a browser: fetches URL, then every src="/..." and href="/..." it
      references, one after the other on the same connection. A page view is
      mixed when an asset's "cutover-release:<name>" marker differs from the
      page's.

Both print one line of key=value pairs on stdout, details on stderr, and give
up after --max-seconds (default 50) even if the stop file never appears.
"""
import argparse
import http.client
import os
import re
import sys
import threading
import time
import urllib.parse

MARKER = re.compile(rb"cutover-release:([A-Za-z0-9]+)")
BUILD = re.compile(rb"build=([A-Za-z0-9._-]+)")
LINK = re.compile(rb'(?:src|href)="(/[^"]*)"')


class Client:
    """One keep-alive connection that reconnects after errors."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def get(self, path):
        """Returns (status, body); status is a string like 'exc:ConnectionResetError' on failure."""
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
            self.conn.request("GET", path)
            r = self.conn.getresponse()
            body = r.read()
            if r.will_close:
                self.conn.close()
                self.conn = None
            return r.status, body
        except (OSError, http.client.HTTPException) as e:
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return "exc:" + type(e).__name__, b""


def run_threads(n, target, args):
    deadline = time.time() + args.max_seconds
    stop = lambda: os.path.exists(args.stop_file) or time.time() > deadline
    results = [[] for _ in range(n)]
    ts = [threading.Thread(target=target, args=(args, stop, results[i])) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return [r for rs in results for r in rs]


def poll_thread(args, stop, out):
    u = urllib.parse.urlsplit(args.url)
    c = Client(args.url)
    path = u.path or "/"
    while not stop():
        t0 = time.time()
        status, body = c.get(path)
        m = BUILD.search(body)
        out.append((t0, time.time(), status, m.group(1).decode() if m else None))


def cmd_poll(args):
    samples = sorted(run_threads(args.threads, poll_thread, args))
    events = []
    with open(args.events) as f:
        for line in f:
            if line.strip():
                start, t, build = line.split()
                events.append((float(t), build, float(start)))
    events.sort()
    errors = [s for s in samples if s[2] != 200 or s[3] is None]
    violations, judged, max_lag = [], [], 0.0
    for i, (t, build, _) in enumerate(events):
        end = events[i + 1][2] if i + 1 < len(events) else float("inf")
        window = [s for s in samples if t <= s[0] < end and s[2] == 200 and s[3]]
        stale = [s for s in window if s[3] != build]
        if stale:
            max_lag = max(max_lag, max(s[0] for s in stale) - t)
        late = [s for s in window if s[0] >= t + args.grace]
        bad = [s for s in late if s[3] != build]
        violations += bad
        judged.append(len(late))
        print("event %d build=%s: %d responses, %d judged, %d stale (last %.3fs after the deploy), %d violations"
              % (i, build, len(window), len(late), len(stale),
                 max((s[0] for s in stale), default=t) - t, len(bad)), file=sys.stderr)
    for s in (errors + violations)[:10]:
        print("  t=%.3f status=%s build=%s" % (s[0], s[2], s[3]), file=sys.stderr)
    print("samples=%d errors=%d violations=%d max_lag_ms=%d events=%d min_judged=%d first_error=%s" % (
        len(samples), len(errors), len(violations), int(max_lag * 1000), len(events),
        min(judged[1:] or judged or [0]), errors[0][2] if errors else "none"))


def browse_thread(args, stop, out):
    u = urllib.parse.urlsplit(args.url)
    c = Client(args.url)
    page = u.path or "/"
    while not stop():
        status, body = c.get(page)
        m = MARKER.search(body[:200])
        if status != 200 or not m:
            out.append(("error", None, 0, "page status %s" % status))
            continue
        rel = m.group(1)
        assets = [a.decode() for a in LINK.findall(body)]
        mixed, error = 0, None
        for a in assets:
            status, body = c.get(a)
            head, tail = MARKER.search(body[:200]), MARKER.search(body[-200:])
            if status != 200 or not head or not tail or head.group(1) != tail.group(1):
                error = "asset %s status %s" % (a, status)
                break
            if head.group(1) != rel:
                mixed += 1
        if error:
            out.append(("error", rel, 0, error))
        else:
            out.append(("view", rel, mixed, len(assets)))


def cmd_browse(args):
    views = run_threads(args.browsers, browse_thread, args)
    ok = [v for v in views if v[0] == "view"]
    errors = [v for v in views if v[0] == "error"]
    mixed = [v for v in ok if v[2] > 0]
    releases = {}
    for v in ok:
        releases[v[1].decode()] = releases.get(v[1].decode(), 0) + 1
    for v in errors[:10]:
        print("  error: %s" % v[3], file=sys.stderr)
    print("page_views=%d mixed=%d mixed_assets=%d assets=%d errors=%d releases=%d pages=%s" % (
        len(ok), len(mixed), sum(v[2] for v in ok), sum(v[3] for v in ok), len(errors),
        len(releases), ",".join("%s:%d" % kv for kv in sorted(releases.items())) or "none"))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("poll", "browse"):
        s = sub.add_parser(name)
        s.add_argument("url")
        s.add_argument("--stop-file", required=True)
        s.add_argument("--max-seconds", type=float, default=50)
    sub.choices["poll"].add_argument("--events", required=True)
    sub.choices["poll"].add_argument("--threads", type=int, default=4)
    sub.choices["poll"].add_argument("--grace", type=float, default=1.0)
    sub.choices["browse"].add_argument("--browsers", type=int, default=8)
    args = p.parse_args()
    {"poll": cmd_poll, "browse": cmd_browse}[args.cmd](args)


if __name__ == "__main__":
    main()
