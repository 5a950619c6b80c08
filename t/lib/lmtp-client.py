#!/usr/bin/env python3
# lmtp-client.py - the LMTP client side of the bridge's hostile-input tests
# (t/0510, t/0535): bytes a real Postfix would never send, straight over a
# socket.
#
#	lmtp-client.py PORT send DATA	send DATA (Python escapes), print the
#					replies until "221" or EOF (CRLF -> LF)
#	lmtp-client.py PORT eof DATA	the same, our side shut after DATA
#	lmtp-client.py PORT vanish DATA	send DATA, then close without reading
#	lmtp-client.py PORT flood DIR	pipeline NOOPs without ever reading;
#					once the bridge stops reading, touch
#					DIR/stalled, wait for DIR/drain, then
#					read to the end and print how the
#					connection ended
import os
import socket
import sys
import time


def replies(s, timeout):
    s.settimeout(timeout)
    out = b""
    while True:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        if not b:
            break
        out += b
        if out.endswith(b"221 2.0.0 Bye\r\n"):
            break
    return out.decode("latin-1").replace("\r\n", "\n")


def send(port, data, how="send"):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(data.encode().decode("unicode_escape").encode("latin-1"))
    if how == "vanish":
        time.sleep(0.2)
        s.close()
        return
    if how == "eof":
        s.shutdown(socket.SHUT_WR)
    sys.stdout.write(replies(s, 60))


def flood(port, d):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # small buffers: the bridge's replies fill them quickly
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    chunk = b"NOOP\r\n" * 1000
    sent = 0
    last = time.time()
    while time.time() - last < 3:	# 3 s without progress: stalled
        try:
            sent += s.send(chunk)
            last = time.time()
        except BlockingIOError:
            time.sleep(0.05)
    open(os.path.join(d, "stalled"), "w").write("%d\n" % sent)
    while not os.path.exists(os.path.join(d, "drain")):
        time.sleep(0.1)
    s.setblocking(True)
    s.settimeout(5)
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                print("closed (EOF) after %d bytes" % len(got))
                break
            got += b
    except ConnectionResetError:
        print("closed (reset) after %d bytes" % len(got))
    except socket.timeout:
        print("still open after %d bytes" % len(got))
    if b"421 4.4.2" in got:
        print("idle timeout reply seen")


if __name__ == "__main__":
    port = int(sys.argv[1])
    if sys.argv[2] in ("send", "eof", "vanish"):
        send(port, sys.argv[3], sys.argv[2])
    elif sys.argv[2] == "flood":
        flood(port, sys.argv[3])
