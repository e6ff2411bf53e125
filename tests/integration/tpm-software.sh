#!/bin/sh
# Software signing keys (the fallback for hosts without a TPM): refused
# unless the configuration says allow_software_keys = yes, loud on every
# use, and with the same certificate, signature and client-assertion
# results as TPM keys (checked by OpenSSL and python3-jwt). Runs with no
# TPM reachable; a private swtpm, when installed, shows that a TPM key is
# reported as such next to a software key.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/tpm-lib.sh"

[ -x "$CTL" ] || skip_all "openclawctl not built"
# the configuration must be root-owned: that is the admin's decision
[ "$(id -u)" -eq 0 ] || skip_all "needs root (the configuration file must be owned by root)"

cd "$work" || exit 1
NOTPM="swtpm:path=$work/nonexistent"
aud="https://login.microsoftonline.com/00000000-0000-4000-8000-000000000001/oauth2/v2.0/token"
cid="0b9a8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d"
warning="warning: software key .* not bound to a TPM (allow_software_keys = yes)"

# write_conf FILE KEYS_DIR yes|no
write_conf() {
    cat >"$1" <<EOF
[global]
tenant_id = 11111111-2222-3333-4444-555555555555
audiences = api://openclaw-host
keys_dir = $2
allow_software_keys = $3
EOF
    chmod 600 "$1"
}
mkdir -m 0700 "$work/state"
write_conf yes.conf "$work/state/keys" yes
write_conf no.conf "$work/state/keys" no
write_conf other.conf "$work/other-keys" yes
soft() { "$CTL" tpm "$@" --config "$work/yes.conf" --tcti "$NOTPM"; }
nosoft() { "$CTL" tpm "$@" --config "$work/no.conf" --tcti "$NOTPM"; }
other() { "$CTL" tpm "$@" --config "$work/other.conf" --tcti "$NOTPM"; }

# refuse_rc DESCRIPTION RC PATTERN CMD...: CMD exits RC and stderr matches PATTERN
refuse_rc() {
    local d=$1 want=$2 pat=$3 rc
    shift 3
    "$@" >"$work/last.out" 2>"$work/last.err"
    rc=$?
    if [ "$rc" -eq "$want" ] && grep -q -- "$pat" "$work/last.err" &&
        ! grep -q 'Sanitizer' "$work/last.err"; then
        ok "$d"
    else
        not_ok "$d (exit $rc)"
        sed 's/^/# /' "$work/last.err" | head -n 20
    fi
}
# warned DESCRIPTION CMD...: CMD succeeds and prints the software-key warning on stderr
warned() {
    local d=$1
    shift
    if "$@" >"$work/last.out" 2>"$work/last.err" && grep -q -- "$warning" "$work/last.err" &&
        ! grep -q 'Sanitizer' "$work/last.err"; then
        ok "$d"
    else
        not_ok "$d"
        sed 's/^/# /' "$work/last.out" "$work/last.err" | head -n 20
    fi
}

# ---- refused without the configuration's opt-in ----
refuse_rc "keygen --software is refused with allow_software_keys = no (exit 2, names the option)" \
    2 "allow_software_keys = yes" nosoft keygen --software --alg rsa --out refused
refuse_rc "keygen --software is refused without any configuration" \
    2 "allow_software_keys" "$CTL" tpm keygen --software --alg ecc --out refused --tcti "$NOTPM"
check "nothing was written when refused" test ! -e refused -a ! -e "$work/state/keys"
refuse_rc "--software is not accepted outside keygen" 2 "keygen only" \
    soft sign --software --key x --in x --out x
refuse_rc "keygen without --software finds no TPM and fails, naming allow_software_keys" \
    1 "allow_software_keys" soft keygen --alg rsa --out no-fallback
cp "$work/last.err" no-fallback.err
check "... and naming --software" grep -q -- "keygen --software" no-fallback.err
check "... and wrote no key (no silent fallback)" test ! -e no-fallback

# ---- with allow_software_keys = yes, no TPM reachable ----
for alg in rsa ecc; do
    warned "keygen --software --alg $alg without a TPM, with a warning" \
        soft keygen --software --alg $alg --out key-$alg
    warned "certificate for the software $alg key, with a warning" \
        soft cert --key key-$alg --subject "soft-$alg" --days 30 --out cert-$alg.pem
    check "openssl verify -CAfile cert cert accepts the software $alg certificate" \
        openssl verify -CAfile cert-$alg.pem cert-$alg.pem
    openssl x509 -in cert-$alg.pem -pubkey -noout >pub-$alg.pem
done
check "the host key was created 0600 in a 0700 keys_dir" sh -c \
    "[ \"\$(stat -c %a '$work/state/keys')\" = 700 ] &&
     [ \"\$(stat -c %a%s '$work/state/keys/software-host.key')\" = 60032 ]"
check "the key files are 0600" sh -c "[ \"\$(stat -c %a key-rsa)\" = 600 ]"
check "the key file holds no PKCS#8 in clear (no DER PrivateKeyInfo header)" sh -c \
    "! od -An -tx1 -v key-rsa | tr -d ' \n' | grep -q '020100300d06092a864886f70d0101010500'"

printf 'message to sign\n' >msg
warned "RS256 signature with the software key" soft sign --key key-rsa --in msg --out sig-rs
check "... verifies with openssl" openssl dgst -sha256 -verify pub-rsa.pem -signature sig-rs msg
warned "PS256 signature with the software key" soft sign --key key-rsa --ps256 --in msg --out sig-ps
check "... verifies with openssl (salt length 32)" openssl dgst -sha256 -verify pub-rsa.pem \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -signature sig-ps msg
warned "ES256 signature with the software key" soft sign --key key-ecc --in msg --out sig-es
check "... verifies with openssl" openssl dgst -sha256 -verify pub-ecc.pem -signature sig-es msg

for spec in "RS256 rsa" "PS256 rsa --ps256" "ES256 ecc"; do
    set -- $spec
    a=$1 k=$2 extra=${3:-}
    warned "$a client assertion with the software key, with a warning" \
        soft sign-assertion --key key-$k --cert cert-$k.pem --client-id "$cid" --aud "$aud" $extra
    cp "$work/last.out" jwt-$a
    check "... verifies with python3-jwt" \
        "$PY" "$top_srcdir/tests/integration/tpm_verify.py" jwt-$a cert-$k.pem $a "$cid" "$aud"
done
refuse "a software ECC key refuses PS256" "does not fit" \
    soft sign --key key-ecc --ps256 --in msg --out x

# ---- every use needs the opt-in, every time ----
refuse_rc "a software key is refused once the configuration says no (exit 2, names the option)" \
    2 "allow_software_keys = yes" nosoft sign-assertion --key key-rsa --cert cert-rsa.pem \
    --client-id "$cid" --aud "$aud"
refuse_rc "... also for cert" 2 "allow_software_keys" \
    nosoft cert --key key-ecc --subject x --out x.pem
refuse_rc "... and without any configuration" 2 "allow_software_keys" \
    "$CTL" tpm sign --key key-rsa --in msg --out x --tcti "$NOTPM"

# ---- tpm info ----
check "tpm info says software keys are allowed and that the key is software" sh -c \
    "'$CTL' tpm info --config '$work/yes.conf' --tcti '$NOTPM' --key key-rsa >info.out;
     grep -q 'software keys: ALLOWED' info.out && grep -q 'key key-rsa: SOFTWARE key' info.out"
check "tpm info says software keys are refused with allow_software_keys = no" sh -c \
    "'$CTL' tpm info --config '$work/no.conf' --tcti '$NOTPM' >info.out;
     grep -q 'software keys: refused (allow_software_keys = no)' info.out"

# ---- damaged and foreign key files ----
len=$(wc -c <key-rsa)
flip() { # flip FILE OUT OFFSET [fix]: flip one byte, optionally recompute the checksum
    "$PY" - "$@" <<'PYEOF'
import hashlib, sys
b = bytearray(open(sys.argv[1], "rb").read())
off = int(sys.argv[3])
b[off if off >= 0 else len(b) + off] ^= 0x01
if len(sys.argv) > 4:
    b[-32:] = hashlib.sha256(bytes(b[:-32])).digest()
open(sys.argv[2], "wb").write(bytes(b))
PYEOF
}
flip key-rsa hdr-flip 30
flip key-rsa hdr-fixed 30 fix
flip key-rsa pub-fixed 100 fix
flip key-rsa ct-flip -100
flip key-rsa ct-fixed -100 fix
flip key-rsa tag-fixed -33 fix
refuse "a flipped header byte is refused (checksum)" "checksum mismatch" \
    soft sign --key hdr-flip --in msg --out x
refuse "a flipped header byte with a recomputed checksum is refused (GCM)" "does not authenticate" \
    soft sign --key hdr-fixed --in msg --out x
refuse "a flipped public-key byte with a recomputed checksum is refused (GCM)" \
    "does not authenticate" soft sign --key pub-fixed --in msg --out x
refuse "a flipped ciphertext byte is refused (checksum)" "checksum mismatch" \
    soft sign --key ct-flip --in msg --out x
refuse "a flipped ciphertext byte with a recomputed checksum is refused (GCM)" \
    "does not authenticate" soft sign --key ct-fixed --in msg --out x
refuse "a flipped tag byte with a recomputed checksum is refused (GCM)" \
    "does not authenticate" soft sign --key tag-fixed --in msg --out x
head -c $((len - 1)) key-rsa >trunc
refuse "a truncated software key is refused" "truncated" soft sign --key trunc --in msg --out x
refuse "a software key given as a sealed secret is refused" "not a sealed secret" \
    soft unseal --in key-rsa --check

# another host key (another host, or a restored backup of the key file alone)
mkdir -m 0700 "$work/other-keys"
other keygen --software --alg ecc --out other-key >/dev/null 2>&1
refuse "a software key under another host key is refused" "does not authenticate" \
    other sign --key key-rsa --in msg --out x
check "... while the key made there works there" other sign --key other-key --in msg --out x
mv "$work/other-keys/software-host.key" "$work/other-keys/moved"
refuse "a software key without its host key is refused" "host key.*No such file" \
    other sign --key other-key --in msg --out x
mv "$work/other-keys/moved" "$work/other-keys/software-host.key"

# unsafe host key and keys_dir
hk="$work/state/keys/software-host.key"
chmod 640 "$hk"
refuse "a group-readable host key is refused" "mode 0600" soft sign --key key-rsa --in msg --out x
refuse "... also for keygen" "mode 0600" soft keygen --software --alg ecc --out x
chmod 604 "$hk"
refuse "a world-readable host key is refused" "mode 0600" soft sign --key key-rsa --in msg --out x
chmod 600 "$hk"
mv "$hk" "$work/hk-real" && ln -s "$work/hk-real" "$hk"
refuse "a host key that is a symbolic link is refused" "symbolic link" \
    soft sign --key key-rsa --in msg --out x
rm -f "$hk" && mv "$work/hk-real" "$hk"
chmod 750 "$work/state/keys"
refuse "a keys_dir open to the group is refused" "mode 0700" soft sign --key key-rsa --in msg --out x
chmod 700 "$work/state/keys"
check "the key works again once permissions are fixed" soft sign --key key-rsa --in msg --out x

# ---- next to a TPM: a TPM key is reported as TPM-bound ----
if [ -n "$SWTPM" ] && [ -x "$SWTPM" ] && start_swtpm A; then
    check "with a TPM reachable, the software key still signs (no TPM command needed)" \
        "$CTL" tpm sign --config "$work/yes.conf" --tcti "$TCTI_A" --key key-ecc --in msg --out x
    "$CTL" tpm keygen --tcti "$TCTI_A" --alg ecc --out tpm-key >/dev/null 2>&1
    check "tpm info --key shows a TPM key as TPM-bound" sh -c \
        "'$CTL' tpm info --config '$work/yes.conf' --tcti '$TCTI_A' --key tpm-key |
            grep -q 'key tpm-key: TPM-bound'"
    check "a TPM key prints no software warning" sh -c \
        "'$CTL' tpm sign --config '$work/yes.conf' --tcti '$TCTI_A' --key tpm-key --in msg \
            --out x 2>err && ! grep -q warning err"
else
    ok "TPM key next to software keys # SKIP swtpm not available"
fi

echo "1..$tap_n"
[ "$tap_failed" -eq 0 ]
