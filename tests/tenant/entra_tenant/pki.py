"""Test PKI: a throw-away CA, the HTTPS server certificate and the tenant's
token-signing keys (RSA-2048 with self-signed certificates, as Entra
publishes them)."""

import base64
import datetime
import ipaddress
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from . import jose


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def new_ca(common_name="openclaw test tenant CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    now = _utcnow()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def new_server_cert(ca_key, ca_cert, dns_names=("localhost",), ips=("127.0.0.1",)):
    key = ec.generate_private_key(ec.SECP256R1())
    now = _utcnow()
    san = [x509.DNSName(n) for n in dns_names] + \
          [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    cert = (x509.CertificateBuilder()
            .subject_name(_name(dns_names[0] if dns_names else ips[0]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=29))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


class SigningKey:
    """One tenant token-signing key: RSA-2048 and its self-signed certificate."""

    def __init__(self):
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = _utcnow()
        name = _name("accounts.accesscontrol.windows.net")
        self.cert = (x509.CertificateBuilder()
                     .subject_name(name).issuer_name(name)
                     .public_key(self.private_key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=365))
                     .sign(self.private_key, hashes.SHA256()))
        self.der = cert_der(self.cert)
        self.kid = jose.b64url(jose.sha1_thumbprint(self.der))
        self.created = time.time()
        self.retire_at = None  # wall-clock time after which it leaves the JWKS

    @property
    def public_key(self):
        return self.private_key.public_key()

    def jwk(self, issuer=None, cloud_instance_name="microsoftonline.com", v1=False) -> dict:
        numbers = self.public_key.public_numbers()
        key = {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
               "n": jose.int_to_b64url(numbers.n), "e": jose.int_to_b64url(numbers.e),
               "x5c": [base64.b64encode(self.der).decode("ascii")],
               "cloud_instance_name": cloud_instance_name}
        if issuer is not None and not v1:
            key["issuer"] = issuer
        return key


class KeyRing:
    """The published signing keys. The first one signs; the others are kept
    for a grace period after a rotation."""

    def __init__(self):
        self._lock = threading.Lock()
        self._keys = [SigningKey()]

    @property
    def current(self) -> SigningKey:
        with self._lock:
            return self._keys[0]

    def published(self):
        with self._lock:
            now = time.time()
            self._keys = [k for i, k in enumerate(self._keys)
                          if i == 0 or k.retire_at is None or k.retire_at > now]
            return list(self._keys)

    def by_kid(self, kid):
        for key in self.published():
            if key.kid == kid:
                return key
        return None

    def rotate(self, grace_seconds=None) -> SigningKey:
        new = SigningKey()
        with self._lock:
            if grace_seconds is not None:
                for k in self._keys:
                    if k.retire_at is None:
                        k.retire_at = time.time() + float(grace_seconds)
            self._keys.insert(0, new)
        return new

    def drop_old(self):
        with self._lock:
            dropped = [k.kid for k in self._keys[1:]]
            self._keys = self._keys[:1]
        return dropped
