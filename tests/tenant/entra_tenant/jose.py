"""Minimal JOSE helpers: base64url, compact JWS signing and verification."""

import base64
import hashlib
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils


class JwtError(Exception):
    """A token could not be parsed or its signature did not verify."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str):
        raise JwtError("base64url value is not a string")
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise JwtError("invalid base64url") from exc


def compact_json(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


def sha1_thumbprint(der: bytes) -> bytes:
    return hashlib.sha1(der).digest()


def sha256_thumbprint(der: bytes) -> bytes:
    return hashlib.sha256(der).digest()


def int_to_b64url(value: int) -> str:
    length = max(1, (value.bit_length() + 7) // 8)
    return b64url(value.to_bytes(length, "big"))


def sign_rs256(private_key, header: dict, claims: dict) -> str:
    signing_input = b64url(compact_json(header)) + "." + b64url(compact_json(claims))
    signature = private_key.sign(signing_input.encode("ascii"),
                                 padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


class ParsedJwt:
    """The three parts of a compact JWS, decoded but not yet verified."""

    def __init__(self, token: str):
        if not isinstance(token, str) or token.count(".") != 2:
            raise JwtError("token is not a compact JWS")
        head_b64, body_b64, sig_b64 = token.split(".")
        try:
            self.header = json.loads(b64url_decode(head_b64))
            self.claims = json.loads(b64url_decode(body_b64))
        except (ValueError, UnicodeDecodeError) as exc:
            raise JwtError("token header or payload is not JSON") from exc
        if not isinstance(self.header, dict) or not isinstance(self.claims, dict):
            raise JwtError("token header or payload is not a JSON object")
        self.signature = b64url_decode(sig_b64)
        self.signing_input = (head_b64 + "." + body_b64).encode("ascii")

    @property
    def alg(self):
        return self.header.get("alg")

    def verify(self, public_key) -> None:
        """Verify the signature with public_key; raise JwtError if it fails."""
        alg = self.alg
        try:
            if alg == "RS256" and isinstance(public_key, rsa.RSAPublicKey):
                public_key.verify(self.signature, self.signing_input,
                                  padding.PKCS1v15(), hashes.SHA256())
            elif alg == "PS256" and isinstance(public_key, rsa.RSAPublicKey):
                public_key.verify(self.signature, self.signing_input,
                                  padding.PSS(mgf=padding.MGF1(hashes.SHA256()),
                                              salt_length=32),
                                  hashes.SHA256())
            elif alg == "ES256" and isinstance(public_key, ec.EllipticCurvePublicKey):
                if len(self.signature) != 64:
                    raise JwtError("ES256 signature must be 64 bytes")
                der_sig = utils.encode_dss_signature(
                    int.from_bytes(self.signature[:32], "big"),
                    int.from_bytes(self.signature[32:], "big"))
                public_key.verify(der_sig, self.signing_input,
                                  ec.ECDSA(hashes.SHA256()))
            else:
                raise JwtError("unsupported alg %r for this key" % (alg,))
        except InvalidSignature as exc:
            raise JwtError("signature verification failed") from exc
