#!/usr/bin/python3
# socket_activate.py ADDR PORT COMMAND...: what systemd does for a .socket
# unit with ListenStream=ADDR:PORT and Service= the command: make the
# listening socket (as the caller, root: port 80), put it on fd 3, set
# LISTEN_FDS=1 and LISTEN_PID to this process, and exec the command in the
# same process (setpriv then openclawd: still this pid). For tests only.
import os
import socket
import sys

addr, port, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(64)
if s.fileno() != 3:
    os.dup2(s.fileno(), 3, inheritable=True)
    s.close()
else:
    os.set_inheritable(3, True)
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = str(os.getpid())
os.environ["LISTEN_FDNAMES"] = "imds"
os.execvp(cmd[0], cmd)
