#!/usr/bin/python3
# A local flood for the tests: hold up to N connections to openclawd's
# socket (unix PATH) or the managed-identity endpoint (tcp HOST:PORT), send
# nothing, and reconnect each one the daemon closes, for SECONDS (bounded).
#   flood_client.py unix PATH N SECONDS
#   flood_client.py tcp HOST:PORT N SECONDS
# Prints "opened O closed-by-peer C connect-errors E" at the end.
import socket
import sys
import time


def main():
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
