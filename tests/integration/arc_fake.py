#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A hostile Azure Arc identity endpoint for tests (loopback only, plain http).

    arc_fake.py --dir DIR --mode-file FILE --log FILE --port-file FILE

Answers GET /metadata/identity/oauth2/token. Without Authorization it sends
the 401 challenge chosen by the first word of FILE (read on every request),
naming files it prepared under DIR:

  good        realm = DIR/ok/good.key (a real key); the retry with
              "Authorization: Basic <content>" gets a token
  outside     realm = DIR/outside/x.key (outside the allowed directory)
  dotdot      realm = DIR/ok/../outside/x.key
  symlink     realm = DIR/ok/link.key, a symlink to DIR/ok/good.key
  big         realm = DIR/ok/big.key, 5000 bytes
  fifo        realm = DIR/ok/fifo.key, a FIFO (nobody writes to it)
  noext       realm = DIR/ok/good.txt
  nochallenge 401 without WWW-Authenticate
  viadir      realm = DIR/oklink/good.key (DIR/oklink -> DIR/ok)
  ok200       200 with a token at once, no challenge

Every request is logged as "MODE auth=yes|no" (never the key). Stop it with
SIGTERM by PID.
"""
import argparse
import http.server
import json
import os
import signal
import sys

KEY = "4f1c2a9e8b7d6c5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f"


def prepare(d):
    ok = os.path.join(d, "ok")
    out = os.path.join(d, "outside")
    os.makedirs(ok, exist_ok=True)
    os.makedirs(out, exist_ok=True)
    for path, data in ((os.path.join(ok, "good.key"), KEY),
                       (os.path.join(ok, "good.txt"), KEY),
                       (os.path.join(out, "x.key"), KEY),
                       (os.path.join(ok, "big.key"), "A" * 5000)):
        with open(path, "w") as f:
            f.write(data)
        os.chmod(path, 0o600)
    for link, target in ((os.path.join(ok, "link.key"), os.path.join(ok, "good.key")),
                         (os.path.join(d, "oklink"), ok)):
        if not os.path.lexists(link):
            os.symlink(target, link)
    fifo = os.path.join(ok, "fifo.key")
    if not os.path.exists(fifo):
        os.mkfifo(fifo, 0o600)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--mode-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args()
    d = os.path.realpath(a.dir)
    prepare(d)
    realms = {
        "good": os.path.join(d, "ok", "good.key"),
        "outside": os.path.join(d, "outside", "x.key"),
        "dotdot": os.path.join(d, "ok", "..", "outside", "x.key"),
        "symlink": os.path.join(d, "ok", "link.key"),
        "big": os.path.join(d, "ok", "big.key"),
        "fifo": os.path.join(d, "ok", "fifo.key"),
        "noext": os.path.join(d, "ok", "good.txt"),
        "viadir": os.path.join(d, "oklink", "good.key"),
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send(self, status, obj, headers=()):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def token(self):
            self.send(200, {"access_token": "arc-fake-access-token", "expires_in": "3600",
                            "expires_on": "0", "resource": "x", "token_type": "Bearer"})

        def do_GET(self):
            with open(a.mode_file) as f:
                mode = (f.read().split() or ["good"])[0]
            auth = self.headers.get("Authorization")
            with open(a.log, "a") as f:
                f.write("%s auth=%s metadata=%s\n" % (mode, "yes" if auth else "no",
                                                     self.headers.get("Metadata")))
            if not self.path.startswith("/metadata/identity/oauth2/token?"):
                return self.send(404, {"error": "not_found"})
            if mode == "ok200":
                return self.token()
            if auth:
                if mode == "good" and auth == "Basic " + KEY:
                    return self.token()
                return self.send(401, {"error": "unauthorized_client"})
            if mode == "nochallenge":
                return self.send(401, {"error": "unauthorized_client"})
            self.send(401, {"error": "unauthorized_client"},
                      [("WWW-Authenticate", "Basic realm=%s" % realms[mode])])

    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
