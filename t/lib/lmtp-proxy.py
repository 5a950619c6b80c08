#!/usr/bin/env python3
# lmtp-proxy.py - a TCP relay that slows or breaks one step of an LMTP
# transaction, for the bridge's stop test (t/0536) and its fault tests
# (t/0570): the peers on either side are the real ones (Postfix, the
# bridge, Dovecot), only the timing or the backend's behaviour changes.
#
#	lmtp-proxy.py PORT TARGET_PORT hold-dot DIR
#		the client's end of data (CRLF "." CRLF) is held back until
#		DIR/release exists; DIR/held is created when it arrives
#	lmtp-proxy.py PORT TARGET_PORT delay-reply SECS
#		once the client's end of data has gone through, the
#		server's next bytes (its replies) wait SECS seconds
#	lmtp-proxy.py PORT TARGET_PORT faults DIR
#		an LMTP-aware relay (t/0570): each transaction (at MAIL)
#		reads DIR/mode, one line, and the backend it plays is:
#		  pass		  the target as it is (no DIR/mode: the same)
#		  close-body N	  closes both connections once N bytes of
#				  the body went through: the target stores
#				  nothing
#		  fewer K	  only the first K RCPTs reach the target
#				  (the others get a "250" from the relay):
#				  after the final dot, the target's K
#				  replies, then both connections closed --
#				  fewer replies than recipients, and only
#				  the recipients that got one were stored
#		  stall		  the final dot is held, nothing answered,
#				  until the client gives up; then the
#				  target's connection is closed without
#				  the dot: nothing stored
#		  garbage	  the final dot is held, and the answer to
#				  it is two lines of binary garbage, then
#				  both connections closed: nothing stored
#		  babble	  the final dot is held, and the answer to
#				  it is an endless stream of bytes with no
#				  line end, until the client gives up
#		Each fault applied appends "MODE" to DIR/applied.
import os
import socket
import sys
import threading
import time

EOD = b"\r\n.\r\n"


def pipe(src, dst, filt):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            b = filt(b)
            if b:
                dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def session(c, target, mode, arg):
    try:
        s = socket.create_connection(("127.0.0.1", target))
    except OSError:
        c.close()
        return
    state = {"tail": b"", "eod": False}

    def up(b):
        # client -> server: notice (and maybe hold) the end of data
        seen = state["tail"] + b
        state["tail"] = seen[-4:]
        if EOD not in seen:
            return b
        if mode == "hold-dot":
            open(os.path.join(arg, "held"), "w").close()
            while not os.path.exists(os.path.join(arg, "release")):
                time.sleep(0.05)
        else:
            state["eod"] = True
        return b

    def down(b):
        # server -> client: the replies after the end of data wait
        if mode == "delay-reply" and state["eod"]:
            state["eod"] = False
            time.sleep(float(arg))
        return b

    t = threading.Thread(target=pipe, args=(c, s, up), daemon=True)
    t.start()
    pipe(s, c, down)
    t.join()
    c.close()
    s.close()


def reply_of(f):
    """one (multi-line) reply from the buffered reader f, or b"" at EOF"""
    out = b""
    while True:
        line = f.readline()
        if not line:
            return b""
        out += line
        if len(line) < 4 or line[3:4] != b"-":
            return out


def faults_mode(d):
    try:
        with open(os.path.join(d, "mode")) as f:
            words = f.read().split()
    except OSError:
        words = []
    return (words[0], int(words[1]) if len(words) > 1 else 0) \
        if words else ("pass", 0)


def faults_applied(d, mode):
    with open(os.path.join(d, "applied"), "a") as f:
        f.write(mode + "\n")


def faults_session(c, target, d):
    try:
        s = socket.create_connection(("127.0.0.1", target))
    except OSError:
        c.close()
        return
    cf, sf = c.makefile("rb"), s.makefile("rb")
    mode, n = "pass", 0
    try:
        c.sendall(reply_of(sf))
        while True:
            line = cf.readline()
            if not line:
                return
            cmd = line[:4].upper()
            if cmd == b"MAIL":
                mode, n = faults_mode(d)
                nrcpt = naccepted = 0
            if cmd == b"RCPT":
                nrcpt += 1
                if mode == "fewer" and nrcpt > n:
                    c.sendall(b"250 2.1.5 Ok (held back by the relay)\r\n")
                    continue
            s.sendall(line)
            r = reply_of(sf)
            if not r:
                return
            if cmd == b"RCPT" and r[:1] == b"2":
                naccepted += 1
            c.sendall(r)
            if cmd == b"QUIT":
                return
            if cmd != b"DATA" or r[:3] != b"354":
                continue
            sent = 0
            while True:
                line = cf.readline()
                if not line:
                    return
                if line == b".\r\n":
                    break
                if mode == "close-body" and sent + len(line) > n:
                    faults_applied(d, mode)
                    return
                s.sendall(line)
                sent += len(line)
            if mode == "stall":
                faults_applied(d, mode)
                while cf.read(65536):
                    pass
                return
            if mode == "garbage":
                faults_applied(d, mode)
                c.sendall(b"\x00\xff\x1b[2J HTTP/1.0 400 Bad\r\n"
                          b"\xfe\xfd 7 \x01\r\n")
                return
            if mode == "babble":
                faults_applied(d, mode)
                chunk = b"250" + b"-" * (1048576 - 3)
                while True:
                    c.sendall(chunk)
            s.sendall(line)
            for _ in range(naccepted):
                c.sendall(reply_of(sf))
            if mode == "fewer":
                faults_applied(d, mode)
                return
    except OSError:
        pass
    finally:
        for x in (c, s):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()


def main():
    port, target, mode, arg = (int(sys.argv[1]), int(sys.argv[2]),
                               sys.argv[3], sys.argv[4])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    while True:
        c, _ = ls.accept()
        if mode == "faults":
            threading.Thread(target=faults_session, args=(c, target, arg),
                             daemon=True).start()
            continue
        threading.Thread(target=session, args=(c, target, mode, arg),
                         daemon=True).start()


if __name__ == "__main__":
    main()
