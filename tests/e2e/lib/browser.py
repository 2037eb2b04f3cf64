#!/usr/bin/env python3
"""Browser-like clients for the sticky-deploy tests (standard library only).

usage: browser.py PORT --stop-file F [--clients N] [--curl-like] [--max-seconds S]

Each client behaves like one browser tab with its own cookie jar: it loads
/page (a navigation: Sec-Fetch-Mode: navigate, Sec-Fetch-Dest: document and
Chromium's Accept), then every asset the page names, on up to 6 parallel
keep-alive connections (Sec-Fetch-Dest script/style/image and the matching
Accept), and starts again at once, until the stop file exists. Cookies set
by any response are sent by every request that starts after it, as a
browser does. With --curl-like, no Sec-Fetch headers: the page asks for
text/html, the assets for */*.

A page view is mixed when an asset's version differs from the page's
("version=V" in the page, the asset's body is its version). A request fails
when it gets anything but 200, an error, or a body cut short.

Prints one line: pages=N mixed=N failed=N requests=N versions=V1,V2...;
each failure and mixed page view goes to stderr.
"""
import argparse
import http.client
import os
import queue
import re
import sys
import threading
import time

LINK = re.compile(rb'(?:src|href)="(/asset/[^"]*)"')
VERSION = re.compile(rb"version=([A-Za-z0-9_.-]+)")
PARALLEL = 6

NAV_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
              "image/apng,*/*;q=0.8",
    "Sec-Fetch-Site": "none",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-User": "?1",
    "Sec-Fetch-Dest": "document",
}
ASSET_HEADERS = {
    "js": {"Accept": "*/*", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"},
    "css": {"Accept": "text/css,*/*;q=0.1", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "style"},
    "png": {"Accept": "image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "Sec-Fetch-Mode": "no-cors",
            "Sec-Fetch-Dest": "image"},
}


class Jar:
    """Cookies by name; Set-Cookie values applied as responses arrive."""

    def __init__(self):
        self.lock = threading.Lock()
        self.cookies = {}

    def header(self):
        with self.lock:
            return "; ".join("%s=%s" % kv for kv in self.cookies.items())

    def take(self, response):
        for v in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = v.partition("=")
            with self.lock:
                self.cookies[name.strip()] = rest.split(";")[0].strip()


class Conn:
    """One keep-alive connection that reconnects after errors."""

    def __init__(self, port):
        self.port = port
        self.c = None

    def get(self, path, headers, jar):
        """(status, body); status is "exc:Name" when the request failed."""
        h = dict(headers)
        cookie = jar.header()
        if cookie:
            h["Cookie"] = cookie
        try:
            if self.c is None:
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.c.request("GET", path, headers=h)
            r = self.c.getresponse()
            jar.take(r)
            body = r.read()
            if r.will_close:
                self.close()
            return r.status, body
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return "exc:" + type(e).__name__, b""

    def close(self):
        if self.c is not None:
            self.c.close()
        self.c = None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.pages = self.mixed = self.failed = self.requests = 0
        self.versions = set()

    def failure(self, path, status):
        with self.lock:
            self.failed += 1
        print("failed: %s %s" % (path, status), file=sys.stderr, flush=True)


def browse(port, stop, deadline, curl_like, stats):
    jar = Jar()
    conns = [Conn(port) for _ in range(PARALLEL)]
    work = queue.Queue()
    results = queue.Queue()

    def worker(conn):
        while True:
            path = work.get()
            if path is None:
                return
            ext = path.split("?")[0].rsplit(".", 1)[-1]
            headers = {"Accept": "*/*"} if curl_like else ASSET_HEADERS.get(ext, ASSET_HEADERS["js"])
            results.put((path,) + conn.get(path, headers, jar))

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in conns]
    for t in threads:
        t.start()
    nav = {"Accept": "text/html"} if curl_like else NAV_HEADERS
    while not os.path.exists(stop) and time.time() < deadline:
        status, body = conns[0].get("/page", nav, jar)
        with stats.lock:
            stats.requests += 1
        m = VERSION.search(body)
        if status != 200 or not m:
            stats.failure("/page", status)
            time.sleep(0.05)
            continue
        page = m.group(1).decode()
        assets = [p.decode() for p in LINK.findall(body)]
        for a in assets:
            work.put(a)
        seen = []
        for _ in assets:
            path, st, b = results.get()
            with stats.lock:
                stats.requests += 1
            if st != 200 or not b:
                stats.failure(path, st)
                continue
            seen.append(b.decode().strip())
        with stats.lock:
            stats.pages += 1
            stats.versions.add(page)
            stats.versions.update(seen)
            if any(v != page for v in seen):
                stats.mixed += 1
                print("mixed: page %s, assets %s" % (page, " ".join(seen)), file=sys.stderr, flush=True)
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join()
    for c in conns:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--curl-like", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=60)
    a = ap.parse_args()
    stats = Stats()
    deadline = time.time() + a.max_seconds
    tabs = [threading.Thread(target=browse, args=(a.port, a.stop_file, deadline, a.curl_like, stats))
            for _ in range(a.clients)]
    for t in tabs:
        t.start()
    for t in tabs:
        t.join()
    print("pages=%d mixed=%d failed=%d requests=%d versions=%s" %
          (stats.pages, stats.mixed, stats.failed, stats.requests, ",".join(sorted(stats.versions))), flush=True)


if __name__ == "__main__":
    main()
