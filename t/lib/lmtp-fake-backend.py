#!/usr/bin/env python3
# lmtp-fake-backend.py - a small LMTP server for fault injection in the
# bridge's tests (t/0535): Dovecot never sends these replies, so a real
# socket peer that does stands in for a broken backend.
#
#	lmtp-fake-backend.py PORT LOG
#	lmtp-fake-backend.py PORT LOG garbage
#
# Recipients whose local part starts with:
#	rcpt3	get "350 3.0.0" to RCPT
#	data3	make DATA get "352 3.0.0" instead of 354
#	final3	get "399 3.9.9" after the final dot
# everything else "250".  Each command line received is appended to LOG.
#
# With "garbage" it speaks no protocol at all (t/0571 points the
# bridge's LDAP client at it): whatever a client sends is logged, as
# bytes, and answered with binary garbage, until the client closes.
import socketserver
import sys


class Handler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def log(self, line):
        with open(sys.argv[2], "ab") as f:
            f.write(line + b"\n")

    def garbage(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                return
            self.log(data)
            self.wfile.write(b"\x00\xffHTTP/1.0 400 Bad Request\r\n\r\n")
            self.wfile.flush()

    def handle(self):
        if sys.argv[3:] == ["garbage"]:
            self.garbage()
            return
        rcpts = []
        self.reply("220 fake.example.test LMTP")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            line = line.rstrip(b"\r\n")
            self.log(line)
            cmd = line[:4].upper()
            if cmd == b"LHLO":
                self.reply("250-fake.example.test\r\n250 8BITMIME")
            elif cmd in (b"MAIL", b"RSET", b"NOOP"):
                if cmd == b"RSET":
                    rcpts = []
                self.reply("250 2.0.0 Ok")
            elif cmd == b"RCPT":
                addr = line.split(b"<", 1)[1].split(b">", 1)[0]
                if addr.startswith(b"rcpt3"):
                    self.reply("350 3.0.0 <%s> think again" % addr.decode())
                else:
                    rcpts.append(addr)
                    self.reply("250 2.1.5 Ok")
            elif cmd == b"DATA":
                if any(a.startswith(b"data3") for a in rcpts):
                    self.reply("352 3.0.0 not quite")
                    continue
                self.reply("354 go ahead")
                while True:
                    body = self.rfile.readline()
                    if not body or body == b".\r\n":
                        break
                for a in rcpts:
                    if a.startswith(b"final3"):
                        self.reply("399 3.9.9 <%s> who knows" % a.decode())
                    else:
                        self.reply("250 2.0.0 <%s> stored" % a.decode())
                rcpts = []
            elif cmd == b"QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 what")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
