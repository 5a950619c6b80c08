#!/usr/bin/env python3
# redis-fake.py - a tiny Redis for fault injection, recording what it gets
#
#   redis-fake.py PORT RECORD [--moved ADDR] [--slots HOST:PORT ...]
#                 [--garbage]
#
# Listens on 127.0.0.1:PORT and appends every command it receives to
# RECORD, one line per command (its arguments joined by spaces; a
# "connect" line per connection).  AUTH, SELECT, ASKING: +OK.  SCRIPT
# LOAD: the script's SHA1.  EVALSHA and EVAL: with --moved, "-MOVED
# <slot> ADDR"; with --garbage, each call the next of GARBAGE (no RESP,
# the wrong type, an array of the wrong types, nesting too deep, a bulk
# string that never comes); otherwise a limit script's answer, {1, 0,
# now_ms, 0}.
# TIME: the time.  CLUSTER SLOTS: with --slots, one range per node named (slots 0-16383
# split among them); without, Redis's error for a server that is no
# cluster.  Anything else: an error.  Not Redis: a test peer only.
import hashlib
import socketserver
import sys
import threading
import time

PORT = int(sys.argv[1])
RECORD = sys.argv[2]
MOVED = None
SLOTS = []
GARBAGE = [
    b"Xno RESP at all\r\n",
    b":42\r\n",
    b"*4\r\n$1\r\n1\r\n$1\r\n0\r\n+now\r\n-ERR\r\n",
    b"*1\r\n" * 12 + b":1\r\n",
    b"$1000000000\r\nshort",
]
garbage = None
calls = 0
args = sys.argv[3:]
while args:
    if args[0] == "--moved":
        MOVED = args[1]
        args = args[2:]
    elif args[0] == "--garbage":
        garbage = GARBAGE
        args = args[1:]
    elif args[0] == "--slots":
        args = args[1:]
        while args and not args[0].startswith("--"):
            SLOTS.append(args[0])
            args = args[1:]
    else:
        sys.exit("redis-fake.py: unknown option " + args[0])
lock = threading.Lock()


def record(line):
    with lock, open(RECORD, "a") as f:
        f.write(line + "\n")


def bulk(s):
    b = s.encode() if isinstance(s, str) else s
    return b"$%d\r\n%s\r\n" % (len(b), b)


def answer(cmd):
    name = cmd[0].upper() if cmd else b""
    if name in (b"AUTH", b"SELECT", b"ASKING"):
        return b"+OK\r\n"
    if name == b"SCRIPT" and len(cmd) == 3 and cmd[1].upper() == b"LOAD":
        return bulk(hashlib.sha1(cmd[2]).hexdigest())
    if name in (b"EVALSHA", b"EVAL"):
        if MOVED:
            return b"-MOVED 1234 %s\r\n" % MOVED.encode()
        if garbage:
            global calls
            with lock:
                calls += 1
                return garbage[(calls - 1) % len(garbage)]
        return b"*4\r\n:1\r\n:0\r\n:%d\r\n:0\r\n" % int(time.time() * 1000)
    if name == b"TIME":
        us = int(time.time() * 1000000)
        return b"*2\r\n" + bulk(str(us // 1000000)) + bulk(str(us % 1000000))
    if name == b"CLUSTER" and len(cmd) == 2 and cmd[1].upper() == b"SLOTS":
        if not SLOTS:
            return b"-ERR This instance has cluster support disabled\r\n"
        out = b"*%d\r\n" % len(SLOTS)
        step = 16384 // len(SLOTS)
        for i, node in enumerate(SLOTS):
            host, port = node.rsplit(":", 1)
            last = 16383 if i == len(SLOTS) - 1 else (i + 1) * step - 1
            out += b"*3\r\n:%d\r\n:%d\r\n*3\r\n%s:%d\r\n%s" % (
                i * step, last, bulk(host), int(port), bulk("%040d" % i))
        return out
    return b"-ERR unknown command\r\n"


class Handler(socketserver.StreamRequestHandler):
    def read_command(self):
        line = self.rfile.readline()
        if not line:
            return None
        if not line.startswith(b"*"):
            return line.split()
        cmd = []
        for _ in range(int(line[1:])):
            n = int(self.rfile.readline()[1:])
            cmd.append(self.rfile.read(n + 2)[:-2])
        return cmd

    def handle(self):
        record("connect")
        while True:
            try:
                cmd = self.read_command()
            except (ValueError, ConnectionError):
                return
            if cmd is None:
                return
            record(" ".join(a.decode(errors="replace")[:80] for a in cmd))
            self.wfile.write(answer(cmd))
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


open(RECORD, "a").close()
with Server(("127.0.0.1", PORT), Handler) as srv:
    print("redis-fake listening on 127.0.0.1:%d" % PORT, flush=True)
    srv.serve_forever()
