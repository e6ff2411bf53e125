#!/usr/bin/python3
# An ssh-agent protocol client for the tests of session-bind@openssh.com:
# it plays the ssh client (and the hosts of a forwarding chain) on one
# agent connection.
#   ssh_bind_client.py AGENT_SOCKET STEP...
# Steps, run in order on one connection, each printing one word:
#   bind:HOSTKEY:SID:auth|fwd[:badsig]  session-bind@openssh.com for the
#       session named SID (32 random bytes per name), signed by the host's
#       private key HOSTKEY (an OpenSSH private key file: ed25519, ecdsa,
#       rsa; RSA signs with rsa-sha2-512); badsig: one bit of it flipped.
#       Prints SUCCESS or FAILURE.
#   sign:SID[:HOSTKEY]  an SSH_MSG_USERAUTH_REQUEST for session SID with
#       the agent's first key (publickey, or publickey-hostbound-v00 naming
#       HOSTKEY's public key). Prints SIGNED or FAILURE.
#   sshsig  an SSHSIG blob in namespace "git". Prints SIGNED or FAILURE.
#   junkbind  a session-bind@openssh.com with a byte after its fields.
#       Prints SUCCESS or FAILURE.
# CLOSED when the agent ends the connection.
import base64
import hashlib
import os
import socket
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def sstr(b):
    return struct.pack(">I", len(b)) + b


def mpint(n):
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return sstr(b"\0" + b if b and b[0] & 0x80 else b)  # positive: a zero before a high bit


def call(s, body):
    s.sendall(struct.pack(">I", len(body)) + body)
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
    return buf[4:]


CURVE_HASH = {"secp256r1": hashes.SHA256(), "secp384r1": hashes.SHA384(),
              "secp521r1": hashes.SHA512()}


def host_sign(key, data, bad):
    if isinstance(key, ed25519.Ed25519PrivateKey):
        alg, raw = b"ssh-ed25519", key.sign(data)
        if bad:
            raw = raw[:-1] + bytes([raw[-1] ^ 1])
        return sstr(alg) + sstr(raw)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        bits = {"secp256r1": b"256", "secp384r1": b"384", "secp521r1": b"521"}[key.curve.name]
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(CURVE_HASH[key.curve.name])))
        if bad:
            s ^= 1
        return sstr(b"ecdsa-sha2-nistp" + bits) + sstr(mpint(r) + mpint(s))
    if isinstance(key, rsa.RSAPrivateKey):
        raw = key.sign(data, padding.PKCS1v15(), hashes.SHA512())
        if bad:
            raw = raw[:-1] + bytes([raw[-1] ^ 1])
        return sstr(b"rsa-sha2-512") + sstr(raw)
    raise SystemExit("unsupported host key")


def host_key(path):
    """The private key of an OpenSSH key file and its public key blob."""
    priv = serialization.load_ssh_private_key(open(path, "rb").read(), None)
    pub = priv.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH)
    return priv, base64.b64decode(pub.split()[1])


def main():
    path = sys.argv[1]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    ans = call(s, b"\x0b")
    if ans is None or ans[0] != 12 or struct.unpack(">I", ans[1:5])[0] < 1:
        print("NO-IDENTITY")
        return 1
    klen = struct.unpack(">I", ans[5:9])[0]
    key = ans[9:9 + klen]
    alg = key[4:4 + struct.unpack(">I", key[:4])[0]]
    sids = {}
    out = []
    for step in sys.argv[2:]:
        f = step.split(":")
        if f[0] == "bind":
            priv, blob = host_key(f[1])
            sid = sids.setdefault(f[2], os.urandom(32))
            sig = host_sign(priv, sid, len(f) > 4 and f[4] == "badsig")
            body = (b"\x1b" + sstr(b"session-bind@openssh.com") + sstr(blob) + sstr(sid) +
                    sstr(sig) + (b"\x01" if f[3] == "fwd" else b"\x00"))
        elif f[0] == "junkbind":
            body = (b"\x1b" + sstr(b"session-bind@openssh.com") + sstr(b"k") + sstr(b"s") +
                    sstr(b"g") + b"\x00\x00")
        elif f[0] in ("sign", "sshsig"):
            if f[0] == "sshsig":
                data = (b"SSHSIG" + sstr(b"git") + sstr(b"") + sstr(b"sha512") +
                        sstr(hashlib.sha512(b"commit").digest()))
            else:
                sid = sids.setdefault(f[1], os.urandom(32))
                method = b"publickey-hostbound-v00@openssh.com" if len(f) > 2 else b"publickey"
                data = (sstr(sid) + b"\x32" + sstr(b"agent-alpha") + sstr(b"ssh-connection") +
                        sstr(method) + b"\x01" + sstr(alg) + sstr(key))
                if len(f) > 2:
                    data += sstr(host_key(f[2])[1])
            body = b"\x0d" + sstr(key) + sstr(data) + struct.pack(">I", 0)
        else:
            raise SystemExit("unknown step " + step)
        ans = call(s, body)
        if ans is None:
            out.append("CLOSED")
            break
        out.append({5: "FAILURE", 6: "SUCCESS", 14: "SIGNED"}.get(ans[0], "TYPE%d" % ans[0]))
    print(" ".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
