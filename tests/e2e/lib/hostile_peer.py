#!/usr/bin/env python3
"""A hostile peer for the agent protocol (tests/e2e/remote.bats).

usage: hostile_peer.py client CASE ROOT     run `cutover agent` and feed it CASE
       hostile_peer.py agent  CASE          act as a (broken) agent on stdin/stdout

As a client, it starts CUTOVER (env) agent with pipes, answers the greeting,
opens ROOT, then sends what CASE says; it prints the agent's frames and its
exit status, one line each. As an agent (behind a fake ssh), it prints the
bootstrap marker and then misbehaves as CASE says.
"""
import os, struct, subprocess, sys, zlib

MAGIC = b"CUTOVER\x01"
HELLO, REQ, OK, FAIL, LOG, DATA, END, ABORT, OUT = range(1, 10)


def frame(t, payload=b""):
    return struct.pack(">IBBH", len(payload), t, 0, 0) + payload


def u64(v):
    return struct.pack(">Q", v)


def s(v):
    b = v.encode() if isinstance(v, str) else v
    return u64(len(b)) + b


def hello(version="0.1.0"):
    return frame(HELLO, MAGIC + u64(1) + u64(0) + s(version))


def req(op, *fields):
    return frame(REQ, s(op) + b"".join(fields))


def read_frames(data):
    out = []
    while len(data) >= 8:
        n, t = struct.unpack(">IB", data[:5])
        out.append((t, data[8:8 + n]))
        data = data[8 + n:]
    return out


def manifest_frames(entries):
    """entries: (type, mode, size, hash bytes, path, target); zstd via the zstd CLI."""
    body = u64(len(entries))
    for t, mode, size, h, path, target in entries:
        body += u64(ord(t)) + u64(mode) + u64(size) + s(h) + s(path) + s(target)
    z = subprocess.run(["zstd", "-q", "-c"], input=body, stdout=subprocess.PIPE, check=True).stdout
    return frame(DATA, z) + frame(END)


def client(case, root):
    exe = os.environ.get("CUTOVER", "cutover")
    msgs = {
        "garbage": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "oversize": struct.pack(">IBBH", 0x7FFFFFFF, REQ, 0, 0),
        "badtype": hello() + frame(77, b"x"),
        "wrongversion": hello("9.9.9"),
        "before-open": hello() + req("state"),
        "unknown-op": hello() + req("open", s(root), u64(0), u64(0)) + req("format-disk"),
        "relative-root": hello() + req("open", s("srv/site"), u64(0), u64(0)),
        "bad-id": hello() + req("open", s(root), u64(0), u64(0)) + req("lock", u64(0))
        + req("begin", s("../../etc")),
        "escape-path": hello() + req("open", s(root), u64(0), u64(0)) + req("lock", u64(0))
        + req("begin", s("20990101T000000Z")) + req("missing")
        + manifest_frames([("f", 0o644, 1, b"\x01" * 32, "../../escaped", "")]),
        "escape-link": hello() + req("open", s(root), u64(0), u64(0)) + req("lock", u64(0))
        + req("begin", s("20990101T000000Z")) + req("missing")
        + manifest_frames([("l", 0o777, 0, b"", "up", "../../../etc")]),
        "bad-object": hello() + req("open", s(root), u64(0), u64(0)) + req("lock", u64(0))
        + req("begin", s("20990101T000000Z")) + req("missing")
        + manifest_frames([("f", 0o644, 5, bytes.fromhex(
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"), "hello.txt", "")])
        + req("put", u64(1)) + frame(DATA, b"not zstd at all") + frame(END, s(b"\x00" * 32) + u64(0o644) + u64(5)),
        "short-fields": hello() + req("open", s(root)),
        "hook-phase": hello() + req("open", s(root), u64(0), u64(0)) + req("lock", u64(0))
        + req("hooks", s("rm -rf /"), u64(0), s("20990101T000000Z"), s("")),
    }
    data = msgs[case] + frame(ABORT)
    p = subprocess.Popen([exe, "agent"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(data, timeout=20)
    for t, payload in read_frames(out):
        if t == LOG or t == FAIL:
            print("frame %d: %s" % (t, payload[8:].decode(errors="replace").replace("\n", " ")))
        else:
            print("frame %d" % t)
    if err:
        print("stderr: " + err.decode(errors="replace").strip().replace("\n", " | "))
    print("exit %d" % p.returncode)


def agent(case):
    sys.stdout.buffer.write(b"CUTOVER-BOOT-1\nCUTOVER-HAVE\n")
    if case == "garbage":
        sys.stdout.buffer.write(b"Welcome! Last login: yesterday\n" * 3)
    elif case == "oversize":
        sys.stdout.buffer.write(struct.pack(">IBBH", 0x7FFFFFFF, HELLO, 0, 0))
    elif case == "wrong-magic":
        sys.stdout.buffer.write(frame(HELLO, b"NOTCUTOV" + u64(1) + u64(0) + s("0.1.0")))
    elif case == "silent-exit":
        pass
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    if sys.argv[1] == "client":
        client(sys.argv[2], sys.argv[3])
    else:
        agent(sys.argv[2])
