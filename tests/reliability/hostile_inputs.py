#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Hostile inputs for tests/reliability/hostile-inputs.sh.

    hostile_inputs.py tokens OUTDIR BASE_TOKEN_FILE   (needs TENANT_URL, TENANT_CA)
    hostile_inputs.py configs OUTDIR GOOD_CONFIG
    hostile_inputs.py caches OUTDIR GOOD_CACHE
    hostile_inputs.py frames OUTDIR

Each writes OUTDIR/NNN files and OUTDIR/list with one line per input:
"NNN<TAB>expected reason<TAB>description" (frames: "NNN<TAB>uid-kind<TAB>
expected reason<TAB>description", uid-kind "root" or "user"). The expected
reason is what hostile-inputs.sh must see for the input to count: tokens
"pam=AUDIT_REASON verify=FAILED_CHECK", configs an extended regular
expression over check-config's first line, caches "UNAVAIL" (every lookup),
frames an extended regular expression over openclawd's answer and log. Every input is one that must be refused: none of them
is a valid token, config, cache file or request. Deterministic: the same
inputs every run (a fixed seed where bytes are picked), so a failure
names an input that can be looked at again.
"""
import base64
import json
import os
import random
import ssl
import struct
import sys
import time
import urllib.request


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


B64U_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def canonical_b64u(seg):
    """True when SEG passes the module's base64url checks (common/b64url.c):
    the alphabet, no length of 4n+1, zero bits after the last whole byte."""
    if len(seg) % 4 == 1 or any(c not in B64U_ALPHABET for c in seg):
        return False
    last = B64U_ALPHABET.index(seg[-1]) if seg else 0
    return {0: True, 2: last & 0x0F == 0, 3: last & 0x03 == 0}[len(seg) % 4]


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Out:
    """OUTDIR/NNN files and OUTDIR/list. With REASONS (a table reason ->
    descriptions), each input's expected reason is looked up by its
    description (without a "signed by the tenant: "-like prefix) and written
    as the column before the description; an input without one is an error."""

    def __init__(self, outdir, reasons=None, fmt=str):
        self.dir = outdir
        self.fmt = fmt
        self.n = 0
        self.reasons = None
        if reasons is not None:
            self.reasons = {}
            for reason, descs in reasons.items():
                for d in descs:
                    assert d not in self.reasons, "two expected reasons for " + d
                    self.reasons[d] = reason
        os.makedirs(outdir, exist_ok=True)
        self.list = open(os.path.join(outdir, "list"), "w")

    def add(self, data, desc, *extra):
        self.n += 1
        name = "%03d" % self.n
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)
        if self.reasons is not None:
            key = desc.split(": ", 1)[1] if desc.startswith(PREFIXES) else desc
            extra = extra + (self.fmt(self.reasons[key]),)
        self.list.write("\t".join((name,) + extra + (desc.replace("\t", " "),)) + "\n")
        return name

    def close(self):
        self.list.close()
        return self.n


# ---------------------------------------------------------------- tokens
PREFIXES = ("signed by the tenant: ", "header rewritten: ")

# tokens: the audit reason pam_openclaw logs (result=failure reason=R) and
# the check openclawctl verify-token --json names as "failed", the same for
# both; "conversation" (no token at all) is the one where verify-token
# answers on stderr instead (TOKEN_VERIFY_TEXT).
TOKEN_REASONS = {
    "conversation": [
        "empty",
    ],
    "key-issuer": [
        "tid of another tenant",
        "no tid",
        "tid not a GUID",
        "every claim null",
    ],
    "app-only": [
        "a delegated (user) token: scp and upn",
        "idtyp user",
    ],
    "format": [
        "one dot",
        "two dots",
        "three short parts",
        "two parts (no signature)",
        "four parts",
        "standard base64 alphabet (+ and /)",
        "padding in the header",
        "padding in the signature",
        "a space inside",
        "a NUL inside",
        "with a Bearer prefix",
        "16 KiB of one character",
        "3000 random bytes",
        "2000 random printable bytes",
        "overlong UTF-8 sequences",
        "the token reversed",
    ],
    "version": [
        "ver 3.0",
        "ver a number",
    ],
    "role": [
        "no roles",
        "empty roles",
        "roles only Host.Sudo (sshd needs Host.Login)",
        "role differing in case",
    ],
    "identity": [
        "azp of agent-beta",
        "no appid and no azp",
        "appid not a GUID",
        "no oid",
        "oid not a GUID",
        "oid a number",
        "appid and azp disagree",
        "roles a string",
        "roles of numbers",
        "roles nested",
    ],
    "size": [
        "20 000 roles, none right",
        "role of 100 000 bytes",
        "payload of 64 KiB",
        "three parts of 40 000 bytes",
    ],
    "not-before": [
        "not valid for an hour (nbf)",
        "nbf as a string",
    ],
    "header": [
        "crit names an unknown extension",
        "typ JWE with enc",
        "zip DEF",
        "header not JSON",
        "header a JSON array",
        "header JSON null",
        "header with a duplicate alg",
        "parts swapped",
        "the token reversed (every part still canonical base64url)",
    ],
    "audience": [
        "audience of another resource",
        "audience Graph",
        "audience a list of others",
        "audience an empty list",
        "empty audience",
        "no audience",
        "audience a number",
        "audience with a trailing slash",
        "audience differing in case",
    ],
    "alg": [
        "alg none, no signature",
        "alg none, the signature kept",
        "alg None (case)",
        "alg HS256 (key confusion)",
        "alg RS512",
        "alg missing",
        "alg a number",
    ],
    "payload": [
        "role with a NUL",
        "claims nested 900 deep",
    ],
    "agent": [
        "appid of agent-beta",
        "oid of agent-beta",
    ],
    "kid": [
        "alg ES256 over an RSA signature",
        "kid unknown",
        "kid of 10 000 bytes",
        "kid a number",
        "kid with a path",
        "kid and x5t missing",
        "jku pointing elsewhere, unknown kid",
        "embedded jwk, unknown kid",
    ],
    "signature": [
        "empty signature",
        "signature shortened",
        "signature lengthened",
        "first signature character changed",
        "one payload bit flipped",
        "roles added after signing",
        "payload truncated JSON",
        "payload invalid UTF-8",
        "payload with a duplicate key",
    ],
    "issuer": [
        "issuer of another tenant",
        "no issuer",
        "issuer over http",
        "issuer with a suffix",
        "issuer a list",
    ],
    "expiry": [
        "expired an hour ago",
        "expired beyond the clock skew",
        "no exp",
        "exp as a string",
        "exp as a float",
        "exp 1e308",
        "exp negative",
        "exp 2^63",
        "exp 2^64+1",
        "exp true",
        "exp null",
        "exp an object",
    ],
}
TOKEN_VERIFY_TEXT = {"conversation": "verify-token: no token on standard input"}


def tenant_sign(header, claims):
    ctx = ssl.create_default_context(cafile=os.environ["TENANT_CA"])
    body = json.dumps({"header": header, "claims": claims, "x5t": True}).encode()
    req = urllib.request.Request(os.environ["TENANT_URL"] + "/_control/sign", data=body,
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, context=ctx, timeout=20) as r:
        return json.load(r)["token"]


def tokens(outdir, base_file):
    out = Out(outdir, TOKEN_REASONS,
              lambda r: "pam=%s verify=%s" % (r, TOKEN_VERIFY_TEXT.get(r, r)))
    base = open(base_file).read().strip()
    h64, p64, s64 = base.split(".")
    header = json.loads(unb64u(h64))
    claims = json.loads(unb64u(p64))
    now = int(time.time())
    rnd = random.Random(20261128)

    def signed(desc, changes=None, hdr=None):
        c = dict(claims)
        for k, v in (changes or {}).items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        out.add(tenant_sign(hdr or {}, c), "signed by the tenant: " + desc)

    # time claims
    signed("expired an hour ago", {"exp": now - 3600, "iat": now - 7200, "nbf": now - 7200})
    signed("expired beyond the clock skew", {"exp": now - 400})
    signed("not valid for an hour (nbf)", {"nbf": now + 3600})
    signed("no exp", {"exp": None})
    signed("exp as a string", {"exp": str(now + 3600)})
    signed("exp as a float", {"exp": now + 3600.5})
    signed("exp 1e308", {"exp": 1e308})
    signed("exp negative", {"exp": -1})
    signed("exp 2^63", {"exp": 2 ** 63})
    signed("exp 2^64+1", {"exp": 2 ** 64 + 1})
    signed("exp true", {"exp": True})
    signed("exp null", {"exp": None, "nbf": None, "iat": None})
    signed("exp an object", {"exp": {"v": now + 3600}})
    signed("nbf as a string", {"nbf": "0"})
    # audience
    signed("audience of another resource", {"aud": "api://someone-else"})
    signed("audience Graph", {"aud": "https://graph.microsoft.com"})
    signed("audience a list of others", {"aud": ["api://x", "api://y"]})
    signed("audience an empty list", {"aud": []})
    signed("empty audience", {"aud": ""})
    signed("no audience", {"aud": None})
    signed("audience a number", {"aud": 42})
    signed("audience with a trailing slash", {"aud": str(claims.get("aud")) + "/"})
    signed("audience differing in case", {"aud": str(claims.get("aud")).upper()})
    # issuer and tenant
    iss = str(claims.get("iss", ""))
    signed("issuer of another tenant", {"iss": iss.replace(os.environ.get("TENANT_ID", "x"),
                                                           "00000000-0000-0000-0000-000000000001")})
    signed("no issuer", {"iss": None})
    signed("issuer over http", {"iss": iss.replace("https://", "http://")})
    signed("issuer with a suffix", {"iss": iss + "evil"})
    signed("issuer a list", {"iss": [iss]})
    signed("tid of another tenant", {"tid": "00000000-0000-0000-0000-000000000001"})
    signed("no tid", {"tid": None})
    signed("tid not a GUID", {"tid": "contoso"})
    # identity of the agent
    signed("appid of agent-beta", {"appid": os.environ.get("BETA_APP", "b"), "azp": None})
    signed("azp of agent-beta", {"azp": os.environ.get("BETA_APP", "b"), "appid": None})
    signed("no appid and no azp", {"appid": None, "azp": None})
    signed("appid not a GUID", {"appid": "alpha"})
    signed("oid of agent-beta", {"oid": os.environ.get("BETA_OID", "b")})
    signed("no oid", {"oid": None})
    signed("oid not a GUID", {"oid": "../../etc/passwd"})
    signed("oid a number", {"oid": 7})
    signed("appid and azp disagree", {"azp": os.environ.get("BETA_APP", "b")})
    signed("a delegated (user) token: scp and upn", {"scp": "user_impersonation",
                                                      "upn": "alice@contoso.example",
                                                      "idtyp": "user"})
    signed("idtyp user", {"idtyp": "user"})
    # roles
    signed("no roles", {"roles": None})
    signed("empty roles", {"roles": []})
    signed("roles a string", {"roles": "Host.Login"})
    signed("roles only Host.Sudo (sshd needs Host.Login)", {"roles": ["Host.Sudo"]})
    signed("role differing in case", {"roles": ["host.login"]})
    signed("role with a NUL", {"roles": ["Host.Login\u0000x"]})
    signed("roles of numbers", {"roles": [1, 2, 3]})
    signed("roles nested", {"roles": [["Host.Login"]]})
    signed("20 000 roles, none right", {"roles": ["R.%d" % i for i in range(20000)]})
    signed("role of 100 000 bytes", {"roles": ["Host.Login" + "x" * 100000]})
    # versions and shape
    signed("ver 3.0", {"ver": "3.0"})
    signed("ver a number", {"ver": 1})
    deep = []
    for _ in range(900):
        deep = [deep]
    signed("claims nested 900 deep", {"x": deep})
    signed("payload of 64 KiB", {"pad": "p" * 65536})
    signed("every claim null", {k: None for k in claims})
    # header: the tenant always signs with its own alg and kid, so these are
    # the signed token with its header rewritten (the signature no longer
    # matches, but each must be refused before a key is even chosen)
    def rehead(desc, changes, sig=None):
        h = dict(header)
        for k, v in changes.items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        out.add(b64u(json.dumps(h)) + "." + p64 + "." + (s64 if sig is None else sig),
                "header rewritten: " + desc)

    rehead("alg none, no signature", {"alg": "none"}, "")
    rehead("alg none, the signature kept", {"alg": "none"})
    rehead("alg None (case)", {"alg": "None"}, "")
    rehead("alg HS256 (key confusion)", {"alg": "HS256"})
    rehead("alg ES256 over an RSA signature", {"alg": "ES256"})
    rehead("alg RS512", {"alg": "RS512"})
    rehead("alg missing", {"alg": None})
    rehead("alg a number", {"alg": 256})
    rehead("kid unknown", {"kid": "no-such-key", "x5t": None})
    rehead("kid of 10 000 bytes", {"kid": "k" * 10000, "x5t": None})
    rehead("kid a number", {"kid": 5, "x5t": None})
    rehead("kid with a path", {"kid": "../../../etc/passwd", "x5t": None})
    rehead("kid and x5t missing", {"kid": None, "x5t": None})
    rehead("crit names an unknown extension", {"crit": ["b64"], "b64": False})
    rehead("jku pointing elsewhere, unknown kid", {"jku": "https://attacker.example/keys",
                                                   "kid": "attacker", "x5t": None})
    rehead("embedded jwk, unknown kid", {"jwk": {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
                                         "kid": "embedded", "x5t": None})
    rehead("typ JWE with enc", {"typ": "JWE", "enc": "A256GCM"})
    rehead("zip DEF", {"zip": "DEF"})
    # structure
    out.add("", "empty")
    out.add(".", "one dot")
    out.add("..", "two dots")
    out.add("a.b.c", "three short parts")
    out.add(h64 + "." + p64, "two parts (no signature)")
    out.add(h64 + "." + p64 + ".", "empty signature")
    out.add(base + "." + s64, "four parts")
    # (re-encoded, so the shorter signature is still canonical base64url and
    # reaches the signature check on every run)
    out.add(h64 + "." + p64 + "." + b64u(unb64u(s64)[:-3]), "signature shortened")
    out.add(h64 + "." + p64 + "." + s64 + "AAAA", "signature lengthened")
    out.add(h64 + "." + p64 + "." + ("A" if s64[0] != "A" else "B") + s64[1:],
            "first signature character changed")
    flipped = bytearray(unb64u(p64))
    flipped[len(flipped) // 2] ^= 0x01
    out.add(h64 + "." + b64u(bytes(flipped)) + "." + s64, "one payload bit flipped")
    out.add(h64 + "." + b64u(json.dumps(dict(claims, roles=["Host.Login", "Host.Sudo"])))
            + "." + s64, "roles added after signing")
    std = base.replace("-", "+").replace("_", "/")
    out.add(std if std != base else base + "+", "standard base64 alphabet (+ and /)")
    out.add(h64 + "=." + p64 + "." + s64, "padding in the header")
    out.add(h64 + "." + p64 + "." + s64 + "==", "padding in the signature")
    out.add(h64 + " ." + p64 + "." + s64, "a space inside")
    out.add(h64 + "." + p64 + "\u0000." + s64, "a NUL inside")
    out.add("Bearer " + base, "with a Bearer prefix")
    out.add(b64u("not json") + "." + p64 + "." + s64, "header not JSON")
    out.add(b64u("[]") + "." + p64 + "." + s64, "header a JSON array")
    out.add(b64u("null") + "." + p64 + "." + s64, "header JSON null")
    out.add(h64 + "." + b64u("{") + "." + s64, "payload truncated JSON")
    out.add(h64 + "." + b64u(b"\xff\xfe{\"a\":1}") + "." + s64, "payload invalid UTF-8")
    out.add(h64 + "." + b64u('{"exp":1,"exp":99999999999}') + "." + s64,
            "payload with a duplicate key")
    out.add(b64u('{"alg":"RS256","alg":"none"}') + "." + p64 + "." + s64,
            "header with a duplicate alg")
    out.add("A" * 16384, "16 KiB of one character")
    out.add(".".join(["A" * 40000] * 3), "three parts of 40 000 bytes")
    out.add(bytes(rnd.randrange(256) for _ in range(3000)), "3000 random bytes")
    out.add(bytes(rnd.randrange(33, 127) for _ in range(2000)), "2000 random printable bytes")
    out.add(b"\xc0\xaf" * 500, "overlong UTF-8 sequences")
    # Reversed, the header is the signature's bytes backwards. The base token
    # is new every run: in about one run in a few dozen, every reversed part
    # is still canonical base64url (the signature's first character and the
    # payload's length decide), and the refusal is then the header's, not the
    # format's. The expected reason follows the bytes, as the module's rules do.
    rev = base[::-1]
    out.add(rev, "the token reversed (every part still canonical base64url)"
            if all(canonical_b64u(part) for part in rev.split(".")) else "the token reversed")
    out.add(s64 + "." + p64 + "." + h64, "parts swapped")
    return out.close()


# ---------------------------------------------------------------- configs
# configs: an extended regular expression the first line of openclawctl
# check-config's answer must match (the error that names the input's fault)
CONFIG_REASONS = {
    r"a section header must end with '\]'": [
        "unterminated section header", "text after a section header"],
    r"unknown section \[\]": ["empty section name"],
    r"\[agent\] needs the agent's Unix user name": ["agent without a name"],
    r"\[agent \.\./evil\]: the agent name is its Unix user name": ["agent name with a path"],
    r"\[agent two words\]: the agent name is its Unix user name": ["agent name with a space"],
    r"unknown section \[nosuchsection\]": ["unknown section"],
    r"'this line has no equals sign' is not a section header or a 'key = value' line": [
        "a line without '='"],
    r"a line starts with '='": ["a line with an empty key"],
    r"tenant_id is set twice": ["a duplicate key"],
    r"unknown key no_such_key": ["an unknown key"],
    r"tenant_id = contoso\.onmicrosoft\.com#.*: must be": ["tenant_id not a GUID"],
    r"uid_max = 1000 is below uid_min = 2000000000": ["uid_min above uid_max"],
    r"uid_min = 0: must be between 1000 and": ["uid_min 0 (root)"],
    r"uid_max = 1099511627776: must be between 1000 and": ["uid_max beyond 32 bits"],
    r"uid_min = -5: must be a whole number": ["uid_min negative"],
    r"uid_min = 100000abc: must be a whole number": ["a number with trailing text"],
    r"allow_insecure_credentials = maybe: must be yes or no": ["a boolean that is neither"],
    r"authority = https://a+\.\.\.: is too long": ["a value of 4000 bytes"],
    r"is larger than 1048576 bytes": ["a file over the 1 MiB cap"],
    r"contains a NUL byte": ["a NUL byte in a value"],
    r"is not valid UTF-8": ["invalid UTF-8 in a value"],
    r"jwks_dir = relative/dir: must be an absolute path": ["a relative jwks_dir"],
    r"socket: the path is 210 bytes, a Unix socket path holds at most 107": [
        "a socket path too long for sun_path"],
    r"'10\.0\.0\.0/33': prefix length too long": ["allow_networks prefix /33"],
    r"'300\.1\.1\.1/8' is not an IPv4/IPv6 address": ["allow_networks bad address"],
    r"'fe80::/129': prefix length too long": ["allow_networks IPv6 prefix /129"],
    r"';;;' is not an IPv4/IPv6 address": ["allow_networks garbage"],
    r"allow_time = Xx 09:00-17:00: must be": ["allow_time bad day"],
    r"allow_time = Al 25:00-26:00: must be": ["allow_time hour 25"],
    r"require_role has no value": ["empty require_role"],
    r"deny = -1: must be": ["lockout threshold (deny) negative"],
    r"deny = 0: must be": ["lockout threshold (deny) 0"],
    r"max_token_age = soon: must be a whole number": ["max_token_age not a number"],
    r"\[agent gamma\]: missing required key app_id": ["agent without app_id"],
    r"app_id = not-a-guid: must be a GUID": ["agent app_id not a GUID"],
    r"\[agent gamma\]: app_id a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f is already used": [
        "two agents with the same app_id and object_id"],
    r"uid = 0: must be between 1000 and": ["agent with uid 0"],
    r"credential = telepathy: must be one of": ["agent with an unknown credential kind"],
    r"\[agent alpha-dup\] appears twice": ["the same agent section twice"],
    r"more than 4096 \[agent\] sections": ["5000 agents (over the cap)"],
    r"line is longer than 4096 bytes": [
        "64 KiB of zero bytes", "8 KiB of random bytes", "a line of 70 000 spaces"],
    r"\[global\]: missing required key tenant_id": ["20 000 repeated section headers"],
}


def configs(outdir, good_file):
    out = Out(outdir, CONFIG_REASONS)
    good = open(good_file).read()

    def with_extra(desc, text, section="[global]"):
        # insert TEXT right after SECTION's header line
        i = good.index(section) + len(section)
        out.add(good[:i] + "\n" + text + "\n" + good[i:], desc)

    def replace(desc, old, new):
        assert old in good, old
        out.add(good.replace(old, new, 1), desc)

    def replace_line(desc, key, value):
        # the base config already sets KEY: change its line (a second line
        # would be refused as a duplicate key, not for the value)
        lines = good.split("\n")
        hits = [i for i, l in enumerate(lines) if l.split("=")[0].strip() == key]
        assert len(hits) == 1, key
        lines[hits[0]] = "%s = %s" % (key, value)
        out.add("\n".join(lines), desc)

    out.add("[global\ntenant_id = x\n", "unterminated section header")
    out.add(good + "\n[]\n", "empty section name")
    out.add(good + "\n[agent]\napp_id = a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f\n", "agent without a name")
    out.add(good + "\n[agent ../evil]\n", "agent name with a path")
    out.add(good + "\n[agent two words]\n", "agent name with a space")
    out.add(good + "\n[nosuchsection]\n", "unknown section")
    out.add(good + "\n[global] trailing\n", "text after a section header")
    with_extra("a line without '='", "this line has no equals sign")
    with_extra("a line with an empty key", "= value")
    with_extra("a duplicate key", "tenant_id = 5f0e2c1a-7b3d-4e8f-9a1c-2d3e4f5a6b7c")
    with_extra("an unknown key", "no_such_key = 1")
    replace("tenant_id not a GUID", "tenant_id = ", "tenant_id = contoso.onmicrosoft.com#")
    lines = good.split("\n")
    lines = ["uid_min = 2000000000" if l.startswith("uid_min") else
             "uid_max = 1000" if l.startswith("uid_max") else l for l in lines]
    out.add("\n".join(lines), "uid_min above uid_max")
    replace_line("uid_min 0 (root)", "uid_min", "0")
    replace_line("uid_max beyond 32 bits", "uid_max", "1099511627776")
    replace_line("uid_min negative", "uid_min", "-5")
    replace_line("a number with trailing text", "uid_min", "100000abc")
    with_extra("a boolean that is neither", "allow_insecure_credentials = maybe")
    with_extra("a value of 4000 bytes", "authority = https://" + "a" * 4000)
    with_extra("a file over the 1 MiB cap", "authority = https://" + "a" * (1 << 20))
    with_extra("a NUL byte in a value", "authority = https://login\u0000.example")
    with_extra("invalid UTF-8 in a value", "authority = https://\udcff\udcfe.example")
    with_extra("a relative jwks_dir", "jwks_dir = relative/dir")
    replace_line("a socket path too long for sun_path", "socket", "/run/" + "s" * 200 + ".sock")
    with_extra("allow_networks prefix /33", "allow_networks = 10.0.0.0/33", "[service sshd]")
    with_extra("allow_networks bad address", "allow_networks = 300.1.1.1/8", "[service sshd]")
    with_extra("allow_networks IPv6 prefix /129", "allow_networks = fe80::/129", "[service sshd]")
    with_extra("allow_networks garbage", "allow_networks = ;;;", "[service sshd]")
    with_extra("allow_time bad day", "allow_time = Xx 09:00-17:00", "[service sshd]")
    with_extra("allow_time hour 25", "allow_time = Al 25:00-26:00", "[service sshd]")
    with_extra("empty require_role", "require_role =", "[service sshd]")
    with_extra("lockout threshold (deny) negative", "deny = -1", "[service sshd]")
    with_extra("lockout threshold (deny) 0", "deny = 0", "[service sshd]")
    with_extra("max_token_age not a number", "max_token_age = soon", "[service sshd]")
    out.add(good + "\n[agent gamma]\nobject_id = a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d40\n",
            "agent without app_id")
    out.add(good + "\n[agent gamma]\napp_id = not-a-guid\nobject_id = x\n", "agent app_id not a GUID")
    out.add(good + "\n[agent gamma]\napp_id = a1f3c5e7-9b2d-4f6a-8c0e-1a3b5c7d9e2f\n"
            "object_id = a3d5f7b9-1c4e-4a8b-8d2f-3c5e7a9b1d4f\n",
            "two agents with the same app_id and object_id")
    out.add(good + "\n[agent gamma]\napp_id = c1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f20\n"
            "object_id = c3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e40\nuid = 0\n", "agent with uid 0")
    out.add(good + "\n[agent gamma]\napp_id = c1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f20\n"
            "object_id = c3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e40\ncredential = telepathy\n",
            "agent with an unknown credential kind")
    out.add(good + "\n[agent alpha-dup]\napp_id = c1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f20\n"
            "object_id = c3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e40\n"
            "[agent alpha-dup]\napp_id = c1e3d5f7-9a2c-4e6b-8d0f-1b3c5d7e9f21\n"
            "object_id = c3a5c7e9-1d4f-4b8c-8e2a-3d5f7b9c1e41\n", "the same agent section twice")
    many = [good]
    for i in range(5000):
        many.append("[agent bulk-%d]\napp_id = 00000000-0000-4000-8000-%012d\n"
                    "object_id = 00000000-0000-4000-9000-%012d\n" % (i, i, i))
    out.add("\n".join(many), "5000 agents (over the cap)")
    out.add(b"\x00" * 65536, "64 KiB of zero bytes")
    out.add(bytes(random.Random(7).randrange(256) for _ in range(8192)), "8 KiB of random bytes")
    out.add(good.replace("\n", "\n" + " " * 70000, 1), "a line of 70 000 spaces")
    out.add("[global]\n" * 20000, "20 000 repeated section headers")
    return out.close()


# ---------------------------------------------------------------- caches
def caches(outdir, good_file):
    out = Out(outdir)

    def add(data, desc):  # every lookup of the NSS module must answer UNAVAIL
        out.add(data, desc, "UNAVAIL")

    good = open(good_file, "rb").read()
    n = len(good)
    for cut in sorted(set([0, 1, 7, 8, 15, 16, 31, 32, 63, 64, 127, n // 4, n // 2, n - 8, n - 1])):
        if 0 <= cut < n:
            add(good[:cut], "truncated to %d of %d bytes" % (cut, n))
    rnd = random.Random(1128)
    positions = sorted(set([8, 9, 12, 16, 20, 24, 28, 40, 48, 56] +
                           [rnd.randrange(64, n) for _ in range(14)]))
    for pos in positions:
        if pos < n:
            b = bytearray(good)
            b[pos] ^= 0x40
            add(bytes(b), "byte %d flipped" % pos)
    add(b"OCNSSC\r\n", "the magic alone")
    add(b"OCNSSC\r\n" + b"\x00" * (n - 8), "the magic and zeros")
    add(b"OCNSSC\r\n" + b"\xff" * (n - 8), "the magic and 0xff bytes")
    add(b"\x00" * n, "zeros of the right size")
    add(bytes(rnd.randrange(256) for _ in range(n)), "random bytes of the right size")
    add(good + b"\x00" * 64, "64 bytes appended")
    add(good + good, "the file twice")
    add(b"\x00" * (16 << 20), "16 MiB of zeros")
    return out.close()


# ---------------------------------------------------------------- frames
def frame(body):
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogateescape")
    return struct.pack(">I", len(body)) + body


def frames(outdir):
    """Each frame carries the reason openclawd must give (an extended regular
    expression over its answer and the log lines it wrote for the frame):
    its answer's error, or its log line "uid U pid P: ...; connection
    closed". The members are the protocol's own (type, agent, scope,
    max_age; key, data, flags for ssh-sign: helper/daemon/oc_request.c), so each
    frame reaches the check it is named for. EOF: the frame never completes
    (the peer ends the connection inside it): no answer and no log line, as
    nothing was ever a request."""
    out = Out(outdir)

    def add(data, who, expect, desc):
        out.add(data, desc, who, expect)

    cap = r"frame length 0 or over the 64 KiB cap; connection closed"

    def bad(why):
        return r"bad request \(" + why + r"\); connection closed"

    def not_allowed(what):
        return r"uid [0-9]+ pid [0-9]+: " + what + r" is not allowed for this uid; connection closed"

    add(struct.pack(">I", 0), "root", cap, "length 0")
    add(struct.pack(">I", 0xFFFFFFFF), "root", cap, "length 4 GiB")
    add(struct.pack(">I", 64 * 1024 + 1) + b"{" * 100, "root", cap, "length one over the cap")
    add(struct.pack(">I", 100) + b'{"type":"ping"}', "root", "EOF", "body shorter than its length")
    add(b"\x00\x00", "root", "EOF", "half a header")
    add(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "root", cap, "an HTTP request")
    add(frame("not json"), "root", bad("document is not an object or array"), "body not JSON")
    add(frame("[]"), "root", bad("document is not an object"), "body a JSON array")
    add(frame('"ping"'), "root", bad("document is not an object or array"), "body a JSON string")
    add(frame("null"), "root", bad("document is not an object or array"), "body JSON null")
    add(frame("{}"), "root", bad("type missing or not a short string"), "no type")
    add(frame('{"type":123}'), "root", bad("type missing or not a short string"), "type a number")
    add(frame('{"type":"no-such-request"}'), "root", bad("unknown request type"), "unknown type")
    add(frame('{"type":"' + "p" * 5000 + '"}'), "root", bad("type missing or not a short string"),
        "type of 5000 bytes")
    add(frame('{"type":"ping\u0000x"}'), "root", bad("control character in string"), "type with a NUL")
    add(frame(b'{"type":"\xff\xfe"}'), "root", bad("[^)]*UTF-8[^)]*"), "type invalid UTF-8")
    add(frame('{"type":"PING"}'), "root", bad("unknown request type"), "type in upper case")
    add(frame('{"type":"ping","type":"status"}'), "root", bad("duplicate member name"), "duplicate type")
    add(frame('{"type":"ping","x":' + "[" * 5000 + "]" * 5000 + "}"), "root",
        bad("nesting deeper than 32 levels"), "nested 5000 deep")
    add(frame("{" + '"a":1,' * 8000 + '"type":"ping"'), "root", bad("truncated document"),
        "unterminated object of 8000 members")
    add(frame('{"type":"ping","uid":0}'), "root", bad("unknown member in request"),
        "a member the protocol does not have (uid)")
    add(frame('{"type":"get-token"}'), "root", r"root must name the agent", "get-token without an agent")
    add(frame('{"type":"get-token","agent":5}'), "root", bad("agent not a string or too long"),
        "get-token agent a number")
    add(frame('{"type":"get-token","agent":"../../etc/shadow"}'), "root",
        bad("agent is not a valid user name"), "get-token for a path name")
    add(frame('{"type":"get-token","agent":"' + "a" * 3000 + '"}'), "root",
        bad("agent not a string or too long"), "get-token agent of 3000 bytes")
    add(frame('{"type":"get-token","agent":"no-such-agent"}'), "root", r"no such agent in openclaw.conf",
        "get-token of an agent that is not configured")
    add(frame('{"type":"get-token","agent":"agent-alpha","scope":"' + "s" * 2000 + '"}'), "root",
        bad("scope not a string or too long"), "get-token with a scope of 2000 bytes")
    add(frame('{"type":"get-token","agent":"agent-alpha","scope":"a b"}'), "root",
        bad("scope empty or with spaces or control characters"), "get-token scope with a space")
    add(frame('{"type":"get-token","agent":"agent-alpha","scope":""}'), "root",
        bad("scope empty or with spaces or control characters"), "get-token empty scope")
    add(frame('{"type":"get-token","agent":"agent-alpha","max_age":-5}'), "root",
        bad(r"max_age not an integer in \[0, 86400\]"), "get-token max_age -5")
    add(frame('{"type":"get-token","agent":"agent-alpha","max_age":86401}'), "root",
        bad(r"max_age not an integer in \[0, 86400\]"), "get-token max_age one over a day")
    add(frame('{"type":"get-token","agent":"agent-alpha","max_age":1e309}'), "root",
        bad(r"max_age not an integer in \[0, 86400\]"), "get-token max_age 1e309")
    add(frame('{"type":"get-token","agent":"agent-alpha","max_age":"soon"}'), "root",
        bad(r"max_age not an integer in \[0, 86400\]"), "get-token max_age a string")
    add(frame('{"type":"ping","max_age":5}'), "root", bad("max_age is only for get-token"),
        "max_age on a ping")
    add(frame('{"type":"get-token","agent":"agent-alpha"}'), "user",
        r"denied: uid 65534 pid [0-9]+ asked for a token of agent-alpha",
        "get-token of agent-alpha from a uid that is not agent-alpha's")
    add(frame('{"type":"get-token","max_age":0}'), "user", not_allowed("get-token with max_age"),
        "get-token max_age from a non-root peer")
    add(frame('{"type":"refresh-jwks"}'), "user", not_allowed("refresh-jwks"),
        "refresh-jwks from a non-root peer")
    add(frame('{"type":"agent-lock","agent":"agent-alpha"}'), "user", not_allowed("agent-lock"),
        "agent-lock from a non-root peer")
    add(frame('{"type":"agent-unlock","agent":"agent-alpha"}'), "user", not_allowed("agent-unlock"),
        "agent-unlock from a non-root peer")
    add(frame('{"type":"cache-rebuild"}'), "user", not_allowed("cache-rebuild"),
        "cache-rebuild from a non-root peer")
    add(frame('{"type":"anomaly","agent":"agent-alpha"}'), "user", not_allowed("anomaly"),
        "anomaly from a non-root peer")
    add(frame('{"type":"session-open","agent":"agent-alpha"}'), "user", not_allowed("session-open"),
        "session-open from a non-root peer")
    add(frame('{"type":"agent-lock","agent":"../../x"}'), "root", bad("agent is not a valid user name"),
        "agent-lock of a path name")
    add(frame('{"type":"agent-lock","agent":"' + "a" * 3000 + '"}'), "root",
        bad("agent not a string or too long"), "agent-lock of a 3000-byte name")
    add(frame('{"type":"agent-lock"}'), "root", bad("this request type needs an agent"),
        "agent-lock without a name")
    add(frame('{"type":"session-open"}'), "root", bad("this request type needs an agent"),
        "session-open without an agent")
    add(frame('{"type":"session-open","agent":"no-such-agent"}'), "root", r"no-such-agent|no such agent",
        "session-open of an unknown agent")
    add(frame('{"type":"ping","key":"AAAA"}'), "root", bad("key, data and flags belong to ssh-sign only"),
        "an ssh-sign member on a ping")
    add(frame('{"type":"ssh-sign"}'), "user",
        bad("ssh-sign: key missing, empty, not base64url or too long"), "ssh-sign without key and data")
    add(frame('{"type":"ssh-sign","key":"!!","data":"!!"}'), "user",
        bad("ssh-sign: key missing, empty, not base64url or too long"), "ssh-sign with bad base64")
    add(frame('{"type":"ssh-sign","key":"AAAA","data":"' + "A" * 60000 + '"}'), "user",
        bad("ssh-sign: data missing, empty, not base64url or over 16 KiB"),
        "ssh-sign with 45 KB of data")
    add(frame('{"type":"ssh-sign","key":"AAAA","data":"AAAA","flags":-1}'), "user",
        bad("ssh-sign: flags not an integer 0..4294967295"), "ssh-sign flags -1")
    add(frame('{"type":"ping"}')[:3], "root", "EOF", "a header cut short")
    return out.close()


def main():
    kind, outdir = sys.argv[1], sys.argv[2]
    if kind == "tokens":
        n = tokens(outdir, sys.argv[3])
    elif kind == "configs":
        n = configs(outdir, sys.argv[3])
    elif kind == "caches":
        n = caches(outdir, sys.argv[3])
    elif kind == "frames":
        n = frames(outdir)
    else:
        print("unknown kind " + kind, file=sys.stderr)
        return 2
    print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
