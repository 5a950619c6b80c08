#!/usr/bin/env python3
"""dns-garbage.py - a DNS server on UDP and TCP that answers every query
with garbage: the query's ID, then a header that claims records it does
not hold, a truncated message, or noise.  Never a well-formed answer
(a NODATA would be a lie, not garbage: nothing tells it from the truth).  For fault
tests: what our resolver gets from a broken or hostile server.

usage: dns-garbage.py PORT
"""
import os
import random
import socket
import sys
import threading


def garbage(query):
    qid = query[:2] if len(query) >= 2 else b"\0\0"
    kind = random.randrange(4)
    if kind == 0:       # a response header that promises 50 answers
        return qid + b"\x81\x80\x00\x01\x00\x32\x00\x00\x00\x00"
    if kind == 1:       # the question echoed, three answers promised,
                        # noise where they should be
        question = query[12:] if len(query) > 12 else b""
        end = question.find(b"\0")
        question = question[:end + 5] if end >= 0 else question
        return (qid + b"\x81\x80\x00\x01\x00\x03\x00\x00\x00\x00" +
                question + os.urandom(random.randrange(1, 64)))
    if kind == 2:       # cut in the middle of the header
        return qid + b"\x81"
    return qid + os.urandom(random.randrange(1, 512))


def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    while True:
        q, peer = s.recvfrom(4096)
        s.sendto(garbage(q), peer)


def tcp_client(c):
    try:
        n = c.recv(2)
        if len(n) == 2:
            q = c.recv(int.from_bytes(n, "big"))
            g = garbage(q)
            c.sendall(len(g).to_bytes(2, "big") + g)
    finally:
        c.close()


def main():
    port = int(sys.argv[1])
    t = threading.Thread(target=udp, args=(port,), daemon=True)
    t.start()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    print("dns-garbage: listening on 127.0.0.1:%d" % port, flush=True)
    while True:
        c, _ = s.accept()
        threading.Thread(target=tcp_client, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
