#!/usr/bin/env python3
"""http-junk.py - an HTTP server in rspamd's place that never gives a
verdict: each POST is read whole, then answered with MODE's reply.  For
the milter's Rspamd tests: what the stage gets from a broken or hostile
server on rspamd's port.

usage: http-junk.py PORT MODE
  html     200 OK with an HTML page (a proxy's error page)
  json     200 OK with JSON that is not a verdict ({"hello": ...})
  status   500 with rspamd's own error object
  huge     200 OK with 2 MB of "{" (more than a reply may be)
  slow     nothing for 30 s (past the milter's timeout), then a verdict
  ok       200 OK with a verdict (no action), the connection kept open:
           rspamd 3.4's normal worker closes each one, this shows
           whether the client reuses it
  edits    200 OK with rewrite subject and milter.add_headers /
           remove_headers of every form (the milter's edits are checked)
Each request is counted on stdout ("request N PATH CLIENT-PORT"), flushed.
"""
import http.server
import sys
import time

MODE = sys.argv[2]
EDITS = (b'{"action": "rewrite subject", "score": 7.5, "required_score": 15,'
         b' "subject": "[SPAM] hi", "symbols": {"S1": {"score": 7.5}},'
         b' "milter": {"add_headers": {"X-Added": {"value": "v", "order": 1},'
         b' "X-Spam": "rspamd-own"}, "remove_headers": {"X-Foo": -1,'
         b' "X-Bar": 0, "X-Baz": 2, "X-Spamd-Result": 0}}}')
COUNT = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        COUNT[0] += 1
        print("request %d %s %d" % (COUNT[0], self.path,
                                    self.client_address[1]), flush=True)
        if MODE == "html":
            self.answer(200, b"<html><body>502 Bad Gateway</body></html>")
        elif MODE == "json":
            self.answer(200, b'{"hello": "world", "score": 99}')
        elif MODE == "status":
            self.answer(500, b'{"error": "Internal junk error"}')
        elif MODE == "huge":
            self.answer(200, b"{" * (2 * 1024 * 1024))
        elif MODE == "ok":
            self.answer(200, b'{"action": "no action", "score": 0.5, '
                        b'"required_score": 15.0, "symbols": {}}')
        elif MODE == "edits":
            self.answer(200, EDITS)
        elif MODE == "slow":
            time.sleep(30)
            self.answer(200, b'{"action": "no action"}')


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
