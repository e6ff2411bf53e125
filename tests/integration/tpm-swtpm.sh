#!/bin/sh
# TPM-bound credentials against private swtpm instances (Unix sockets in a
# temporary directory, stopped by PID at exit): keys, certificates and
# client assertions checked by OpenSSL and python3-jwt, sealing with PCR
# policy and auth values, the binding to one TPM, refused blobs, lockout
# reporting, and no TPM handle left behind after 1 000 operations.
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/integration/tpm-lib.sh"
. "${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/bytes.sh"

[ -n "$SWTPM" ] && [ -x "$SWTPM" ] || skip_all "swtpm not installed (apt-get install swtpm)"
[ -x "$CTL" ] || skip_all "openclawctl not built"
start_swtpm A && start_swtpm B && start_swtpm C || {
    echo "1..1"
    echo "not ok 1 - swtpm starts"
    exit 1
}
ctl() { "$CTL" tpm "$@"; }
A() { ctl "$@" --tcti "$TCTI_A"; }
B() { ctl "$@" --tcti "$TCTI_B"; }
cd "$work" || exit 1
aud="https://login.microsoftonline.com/00000000-0000-4000-8000-000000000001/oauth2/v2.0/token"
cid="6f1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d"

# ---- keys, certificates, signatures ----
for alg in rsa ecc; do
    check "keygen $alg" A keygen --alg $alg --out key-$alg
    check "certificate for the $alg key, signed by the TPM" \
        A cert --key key-$alg --subject "agent-$alg" --days 30 --out cert-$alg.pem
    check "openssl x509 -text reads the $alg certificate" \
        sh -c "openssl x509 -in cert-$alg.pem -noout -text | grep -q 'CN = agent-$alg'"
    check "openssl verify -CAfile cert cert accepts the $alg certificate" \
        openssl verify -CAfile cert-$alg.pem cert-$alg.pem
    openssl x509 -in cert-$alg.pem -pubkey -noout >pub-$alg.pem
done
printf 'message to sign\n' >msg
check "RS256 signature by the TPM verifies with openssl" sh -c \
    "'$CTL' tpm sign --tcti '$TCTI_A' --key key-rsa --in msg --out sig-rs &&
     openssl dgst -sha256 -verify pub-rsa.pem -signature sig-rs msg"
check "PS256 signature by the TPM verifies with openssl (salt length 32)" sh -c \
    "'$CTL' tpm sign --tcti '$TCTI_A' --key key-rsa --ps256 --in msg --out sig-ps &&
     openssl dgst -sha256 -verify pub-rsa.pem -sigopt rsa_padding_mode:pss \
        -sigopt rsa_pss_saltlen:32 -signature sig-ps msg"
check "ES256 signature by the TPM verifies with openssl" sh -c \
    "'$CTL' tpm sign --tcti '$TCTI_A' --key key-ecc --in msg --out sig-es &&
     openssl dgst -sha256 -verify pub-ecc.pem -signature sig-es msg"
check "a signature over other data does not verify" sh -c \
    "printf 'other\n' >other; ! openssl dgst -sha256 -verify pub-ecc.pem -signature sig-es other"

# ---- client assertions, checked by python3-jwt ----
for spec in "RS256 rsa" "PS256 rsa --ps256" "ES256 ecc"; do
    set -- $spec
    a=$1 k=$2 extra=${3:-}
    check "$a client assertion signed in the TPM verifies with python3-jwt" sh -c \
        "'$CTL' tpm sign-assertion --tcti '$TCTI_A' --key key-$k --cert cert-$k.pem \
            --client-id '$cid' --aud '$aud' $extra >jwt-$a &&
         '$PY' '$top_srcdir/tests/integration/tpm_verify.py' jwt-$a cert-$k.pem $a '$cid' '$aud'"
done
refuse "an assertion longer than 10 minutes is refused" "at most\|up to 600" \
    A sign-assertion --key key-rsa --cert cert-rsa.pem --client-id "$cid" --aud "$aud" \
    --lifetime 601

# ---- sealing ----
printf 'client-secret-value~123' >secret
head -c 3000 /dev/urandom >long-secret
printf 'correct horse' >auth
printf 'wrong' >wrong-auth
check "seal and unseal a short secret" sh -c \
    "'$CTL' tpm seal --tcti '$TCTI_A' --in secret --out sealed &&
     '$CTL' tpm unseal --tcti '$TCTI_A' --in sealed --stdout | cmp - secret"
check "seal and unseal a 3000-byte secret (sealed key + AES-256-GCM)" sh -c \
    "'$CTL' tpm seal --tcti '$TCTI_A' --in long-secret --out sealed-long &&
     '$CTL' tpm unseal --tcti '$TCTI_A' --in sealed-long --stdout | cmp - long-secret"
refuse "unseal prints the secret only when asked" "--stdout" A unseal --in sealed
check "seal with an auth value; unseal with it" sh -c \
    "'$CTL' tpm seal --tcti '$TCTI_A' --in secret --auth-file auth --out sealed-auth &&
     '$CTL' tpm unseal --tcti '$TCTI_A' --in sealed-auth --auth-file auth --stdout | cmp - secret"
refuse "a wrong auth value is refused with advice" "wrong auth value" \
    A unseal --in sealed-auth --auth-file wrong-auth --check
refuse "a missing auth value is refused" "sealed with an auth value" \
    A unseal --in sealed-auth --check

# ---- PCR policy on PCR 16 ----
check "seal to PCR 16 (sha256 bank) and unseal" sh -c \
    "'$CTL' tpm seal --tcti '$TCTI_A' --in secret --pcrs sha256:16 --out sealed-pcr &&
     '$CTL' tpm unseal --tcti '$TCTI_A' --in sealed-pcr --stdout | cmp - secret"
check "seal to PCR 16 with an auth value too" sh -c \
    "'$CTL' tpm seal --tcti '$TCTI_A' --in long-secret --pcrs 16 --auth-file auth \
        --out sealed-pcr-auth &&
     '$CTL' tpm unseal --tcti '$TCTI_A' --in sealed-pcr-auth --auth-file auth --stdout |
        cmp - long-secret"
check "PCR_Extend(16)" sh -c "printf 'boot changed' | '$CTL' tpm pcr-extend --tcti '$TCTI_A' --pcr 16 --in -"
refuse "after PCR_Extend(16) the PCR-sealed secret is refused, clearly" \
    "PCR policy is not satisfied" A unseal --in sealed-pcr --check
refuse "... also with the right auth value" "PCR policy is not satisfied" \
    A unseal --in sealed-pcr-auth --auth-file auth --check
check "the secret sealed without PCR policy still unseals" \
    A unseal --in sealed --check
check "recovery: re-seal to the new PCR 16 value" sh -c \
    "'$CTL' tpm seal --tcti '$TCTI_A' --in secret --pcrs 16 --out sealed-pcr2 &&
     '$CTL' tpm unseal --tcti '$TCTI_A' --in sealed-pcr2 --stdout | cmp - secret"

# ---- binding to this TPM ----
refuse "a key made on TPM A cannot be loaded on TPM B" "another TPM" \
    B sign --key key-rsa --in msg --out sig-b
refuse "an ECC key made on TPM A cannot sign on TPM B" "another TPM" \
    B sign-assertion --key key-ecc --cert cert-ecc.pem --client-id "$cid" --aud "$aud"
refuse "a secret sealed on TPM A cannot be unsealed on TPM B" "another TPM" \
    B unseal --in sealed --check
refuse "a long secret sealed on TPM A cannot be unsealed on TPM B" "another TPM" \
    B unseal --in sealed-long --check
check "the key still works on TPM A" A sign --key key-rsa --in msg --out sig-a

# ---- a persistent storage key instead of the template (made with tpm2-tools) ----
if command -v tpm2_evictcontrol >/dev/null 2>&1; then
    (
        export TPM2TOOLS_TCTI="$TCTI_B"
        tpm2_createprimary -C o -g sha256 -G ecc256:aes128cfb -c "$work/srk.ctx" &&
            tpm2_evictcontrol -C o -c "$work/srk.ctx" 0x81000001 && tpm2_flushcontext -t
    ) >/dev/null 2>&1
    check "keygen, cert and verify under a persistent storage key 0x81000001" sh -c \
        "'$CTL' tpm keygen --tcti '$TCTI_B' --parent 0x81000001 --alg rsa --out key-p &&
         '$CTL' tpm cert --tcti '$TCTI_B' --key key-p --subject persistent --out cert-p.pem &&
         openssl verify -CAfile cert-p.pem cert-p.pem"
    check "seal and unseal under the persistent storage key" sh -c \
        "'$CTL' tpm seal --tcti '$TCTI_B' --parent 0x81000001 --in secret --out sealed-p &&
         '$CTL' tpm unseal --tcti '$TCTI_B' --in sealed-p --stdout | cmp - secret"
    refuse "a missing persistent storage key is reported" "persistent storage key 0x81000002" \
        B keygen --parent 0x81000002 --alg ecc --out key-q
else
    ok "persistent storage key # SKIP tpm2-tools not installed"
fi

# ---- damaged files ----
len=$(wc -c <key-ecc)
head -c $((len - 1)) key-ecc >trunc
head -c 20 key-ecc >trunc-header
cp key-ecc flipped && flip_byte flipped $((len / 2))
cp key-ecc wrongver && printf '\x09' | dd of=wrongver bs=1 seek=5 conv=notrunc 2>/dev/null
: >empty
head -c 100000 /dev/urandom >garbage
refuse "a truncated key file is refused" "truncated" A sign --key trunc --in msg --out x
refuse "a key file cut inside the header is refused" "truncated" A sign --key trunc-header --in msg --out x
refuse "a corrupted key file is refused" "checksum mismatch" A sign --key flipped --in msg --out x
refuse "a key file of another format version is refused" "format version" A sign --key wrongver --in msg --out x
refuse "an empty file is refused" "bad magic" A unseal --in empty --check
refuse "a random 100 kB file is refused" "larger than any valid blob" A unseal --in garbage --check
ln -s key-rsa key-link
refuse "a key file that is a symbolic link is refused" "symbolic link" A sign --key key-link --in msg --out x
refuse "a directory given as a key file is refused" "not a regular file" A sign --key "$work" --in msg --out x
refuse "a sealed file given as a key is refused" "not a key" A sign --key sealed --in msg --out x
refuse "a key file given as a sealed secret is refused" "not a sealed secret" A unseal --in key-rsa --check
# edit the encrypted payload and fix up the checksum: GCM must catch it
"$PY" - sealed-long sealed-edited <<'PYEOF'
import hashlib, sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-40] ^= 1
b[-32:] = hashlib.sha256(bytes(b[:-32])).digest()
open(sys.argv[2], "wb").write(bytes(b))
PYEOF
refuse "an edited encrypted payload (valid checksum) is refused" "does not authenticate" \
    A unseal --in sealed-edited --check

# ---- no handles left behind ----
tmp_out="$work/stress.out"
OC_TEST_TCTI=$TCTI_A "$top_builddir/tests/integration/tpm_ops" stress 1000 >"$tmp_out" 2>"$work/stress.err"
rc=$?
while read -r line; do
    case $line in
    "ok - "*) ok "${line#ok - }" ;;
    "not ok - "*) not_ok "${line#not ok - }" ;;
    esac
done <"$tmp_out"
[ "$rc" -eq 0 ] || { not_ok "tpm_ops stress exited $rc"; sed 's/^/# /' "$work/stress.err" | head; }
for t in A B; do
    eval "tcti=\$TCTI_$t"
    check "after 1 000 operations and every refusal, TPM $t holds no transient object or session" \
        sh -c "OC_TEST_TCTI='$tcti' '$top_builddir/tests/integration/tpm_ops' count | grep -qx 'transient 0 sessions 0'"
done
if command -v tpm2_getcap >/dev/null 2>&1; then
    check "tpm2_getcap agrees: no transient object, loaded or saved session left on TPM A" \
        sh -c "export TPM2TOOLS_TCTI='$TCTI_A'; t=\$(tpm2_getcap handles-transient) &&
            l=\$(tpm2_getcap handles-loaded-session) && s=\$(tpm2_getcap handles-saved-session) &&
            [ -z \"\$t\$l\$s\" ]"
else
    ok "tpm2_getcap cross-check # SKIP tpm2-tools not installed"
fi

# ---- lockout is reported with what to do (fresh TPM C: 3 tries) ----
ctl seal --tcti "$TCTI_C" --in secret --auth-file auth --out sealed-c >/dev/null 2>&1
for _ in 1 2 3; do
    ctl unseal --tcti "$TCTI_C" --in sealed-c --auth-file wrong-auth --check >/dev/null 2>&1
done
refuse "dictionary-attack lockout is reported with the admin's options" "lockout" \
    ctl unseal --tcti "$TCTI_C" --in sealed-c --auth-file auth --check
check "tpm info shows the lockout" sh -c "'$CTL' tpm info --tcti '$TCTI_C' | grep -q 'IN LOCKOUT'"

# ---- no TPM: a clear refusal that names the option ----
refuse "an unreachable TPM is reported, software keys refused by name" "allow_software_keys" \
    ctl info --tcti "swtpm:path=$work/nonexistent"

echo "1..$tap_n"
[ "$tap_failed" -eq 0 ]
