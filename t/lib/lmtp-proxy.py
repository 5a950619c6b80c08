#!/usr/bin/env python3
# lmtp-proxy.py - a TCP relay that slows one step of an LMTP transaction,
# for the bridge's stop test (t/0536): the peers on either side are the
# real ones (Postfix, the bridge, Dovecot), only the timing is changed.
#
#	lmtp-proxy.py PORT TARGET_PORT hold-dot DIR
#		the client's end of data (CRLF "." CRLF) is held back until
#		DIR/release exists; DIR/held is created when it arrives
#	lmtp-proxy.py PORT TARGET_PORT delay-reply SECS
#		once the client's end of data has gone through, the
#		server's next bytes (its replies) wait SECS seconds
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


def main():
    port, target, mode, arg = (int(sys.argv[1]), int(sys.argv[2]),
                               sys.argv[3], sys.argv[4])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=session, args=(c, target, mode, arg),
                         daemon=True).start()


if __name__ == "__main__":
    main()
