#!/usr/bin/python3
"""Independent check of a TPM-signed client assertion (python3-jwt +
python3-cryptography, no openclaw code).

    tpm_verify.py JWT-FILE CERT-PEM ALG CLIENT-ID AUDIENCE

Exit 0 when the signature verifies with the certificate's key, the header
names that certificate by the right thumbprint and the claims follow the
client-assertion rules; otherwise print why and exit 1.
"""
import base64
import re
import sys
import time

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    token_file, cert_file, alg, client_id, audience = sys.argv[1:6]
    token = open(token_file).read().strip()
    cert = x509.load_pem_x509_certificate(open(cert_file, "rb").read())
    der = cert.public_bytes(Encoding.DER)

    header = jwt.get_unverified_header(token)
    if header.get("alg") != alg or header.get("typ") != "JWT":
        sys.exit("bad header %r" % header)
    if alg == "RS256":
        want = b64url(cert.fingerprint(hashes.SHA1()))
        if header.get("x5t") != want:
            sys.exit("x5t %r is not the certificate's %r" % (header.get("x5t"), want))
    else:
        want = b64url(cert.fingerprint(hashes.SHA256()))
        if header.get("x5t#S256") != want:
            sys.exit("x5t#S256 %r is not the certificate's %r" % (header.get("x5t#S256"), want))
    if len(der) < 100:
        sys.exit("certificate too short")

    claims = jwt.decode(token, cert.public_key(), algorithms=[alg], audience=audience,
                        options={"require": ["exp", "nbf", "iat", "jti", "iss", "sub", "aud"]})
    if claims["iss"] != client_id or claims["sub"] != client_id:
        sys.exit("iss/sub %r/%r are not the client id" % (claims["iss"], claims["sub"]))
    if not (0 < claims["exp"] - claims["iat"] <= 600):
        sys.exit("lifetime %d is not within 10 minutes" % (claims["exp"] - claims["iat"]))
    if claims["nbf"] > time.time() + 5:
        sys.exit("nbf in the future")
    if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        claims["jti"]):
        sys.exit("jti %r is not a random UUID" % claims["jti"])
    # a signature from another key must not verify: flip one signature byte
    head, body, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[len(raw) // 2] ^= 1
    try:
        jwt.decode(".".join([head, body, b64url(bytes(raw))]), cert.public_key(),
                   algorithms=[alg], audience=audience)
        sys.exit("a corrupted signature verified")
    except jwt.InvalidSignatureError:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
