#!/usr/bin/python3
# Raw openclawd protocol client for the tests (runs under any uid).
#   helper_client.py SOCKET json '{"type":"ping"}'   send one frame, print the answer
#   helper_client.py SOCKET raw HEX                   send raw bytes, print the answer
#   helper_client.py SOCKET stall                     connect, send nothing
# Prints the answer body, or CLOSED when the daemon ended the connection
# without answering. Every wait is bounded (10 s).
import socket
import struct
import sys


def main():
    path, mode = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    if mode == "json":
        body = sys.argv[3].encode()
        s.sendall(struct.pack(">I", len(body)) + body)
    elif mode == "raw":
        try:
            s.sendall(bytes.fromhex(sys.argv[3]))
        except (BrokenPipeError, ConnectionResetError):
            print("CLOSED")
            return 0
    elif mode == "stall":
        pass
    else:
        return 2
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if len(buf) >= 4 and len(buf) >= 4 + struct.unpack(">I", buf[:4])[0]:
                break
    except ConnectionResetError:
        pass
    if len(buf) < 4:
        print("CLOSED")
        return 0
    n = struct.unpack(">I", buf[:4])[0]
    print(buf[4:4 + n].decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
