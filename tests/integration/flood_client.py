#!/usr/bin/python3
# A local flood for the tests: hold up to N connections to openclawd's
# socket (unix PATH) or the managed-identity endpoint (tcp HOST:PORT), send
# nothing, and reconnect each one the daemon closes, for SECONDS (bounded).
#   flood_client.py unix PATH N SECONDS
#   flood_client.py tcp HOST:PORT N SECONDS
# Prints "opened O closed-by-peer C connect-errors E" at the end.
#   flood_client.py ping PATH
# One ping as openclaw-token sends it: a blocking connect (it waits while
# the listen backlog is full, as the kernel lets it), then 10 s for the answer.
import socket
import sys
import time


def ping(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)  # blocking, no timeout: like a C client's connect()
    s.settimeout(10)
    body = b'{"type":"ping"}'
    s.sendall(len(body).to_bytes(4, "big") + body)
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + int.from_bytes(buf[:4], "big"):
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    print(buf[4:].decode(errors="replace") if len(buf) > 4 else "CLOSED")
    return 0


def main():
    if sys.argv[1] == "ping":
        return ping(sys.argv[2])
    kind, target, n, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    if kind == "tcp":
        host, port = target.rsplit(":", 1)
        family, addr = socket.AF_INET, (host, int(port))
    else:
        family, addr = socket.AF_UNIX, target
    end = time.monotonic() + min(secs, 60)
    conns, opened, closed, errors = [], 0, 0, 0
    while time.monotonic() < end:
        alive = []
        for s in conns:
            try:
                if s.recv(1, socket.MSG_DONTWAIT) == b"":
                    s.close()
                    closed += 1
                    continue
            except BlockingIOError:
                pass
            except OSError:
                s.close()
                closed += 1
                continue
            alive.append(s)
        conns = alive
        while len(conns) < n and time.monotonic() < end:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(addr)
            except BlockingIOError:
                pass
            except OSError:
                errors += 1
                s.close()
                break
            conns.append(s)
            opened += 1
        time.sleep(0.005)
    for s in conns:
        s.close()
    print("opened %d closed-by-peer %d connect-errors %d" % (opened, closed, errors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
