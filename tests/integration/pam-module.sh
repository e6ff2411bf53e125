#!/bin/bash
# pam_openclaw through libpam (pamtester under pam_wrapper) with tokens of
# the local test tenant: every decision path of auth, account, session and
# password, the failure tally and lockout, one-time tokens, module
# arguments, and the audit lines. Nothing outside a temp dir is touched.
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/pam-lib.sh"

ctl="$top_builddir/helper/ctl/openclawctl"
[ "$(id -u)" -eq 0 ] || ctl_flags=--insecure-config
ctl() { "$top_builddir/helper/ctl/openclawctl" "$@" ${ctl_flags:-}; }
mod=$(pam_module)
wrapper=$(ls /usr/lib/*/libpam_wrapper.so /usr/lib/libpam_wrapper.so 2>/dev/null | head -n1)
conv="$top_builddir/tests/integration/pam-askpass-conv"
[ -f "$mod" ] || tap_skip_all "pam_openclaw.so not built"
# A sanitizer build cannot use pam_wrapper (it dlopens libpam with
# RTLD_DEEPBIND, which ASan refuses): there the instrumented test driver
# pam-askpass-conv opens the service files itself (pam_start_confdir)
# instead of pamtester under pam_wrapper.
SAN=$(pam_sanitizer_preload)
if [ -n "$SAN" ]; then
    [ -x "$conv" ] || tap_skip_all "pam-askpass-conv not built (make check builds it)"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
else
    command -v pamtester >/dev/null || tap_skip_all "pamtester missing (scripts/install-deps.sh)"
    [ -n "$wrapper" ] || tap_skip_all "libpam-wrapper missing (scripts/install-deps.sh)"
fi
command -v curl >/dev/null || tap_skip_all "curl missing (scripts/install-deps.sh)"
"$OC_PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
grep -q OPENCLAW_TEST_AUDIT_FILE "$mod" || tap_skip_all "not a --enable-test-hooks build"

PAM_WORK=$(mktemp -d "${TMPDIR:-/tmp}/oc-pam.XXXXXX")
export PAM_WORK
trap 'tenant_stop; rm -rf "$PAM_WORK"' EXIT
tenant_start "$PAM_WORK/tenant" || tap_setup_fail "the local tenant did not start"
mkdir -p "$PAM_WORK/jwks" "$PAM_WORK/svc" "$PAM_WORK/run"
tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$PAM_WORK/jwks/keys.json"

export TZ=UTC
export OPENCLAW_TEST_AUDIT_FILE="$PAM_WORK/audit.log"
export OPENCLAW_TEST_INSECURE_CONFIG=1 # tests that do not run as root own their files
conf="$PAM_WORK/openclaw.conf"
hour_in=$(date -u -d '-1 hour' +%H:00)
hour_in_end=$(date -u -d '+2 hour' +%H:00)
hour_out=$(date -u -d '+3 hour' +%H:00)
hour_out_end=$(date -u -d '+5 hour' +%H:00)
pam_write_config "$conf" "
[service netsvc]
require_role = Host.Login
allow_networks = 10.0.0.0/8, fd00::/8

[service timed-in]
allow_time = Al $hour_in-$hour_in_end

[service timed-out]
allow_time = Al $hour_out-$hour_out_end

[service only-beta]
allow_agents = agent-beta

[service lock]
require_role = Host.Login
deny = 3
fail_interval = 60
unlock_time = 600

[service lockforever]
require_role = Host.Login
deny = 2
unlock_time = 0

[service once]
require_role = Host.Login
one_time_tokens = yes

[service young]
max_token_age = 60

[service firstpass]
require_role = Host.Login

[service prompted]

[service sshd-sudo]
require_role = Host.Login

[service chunked]
require_role = Host.Login
"
# the same with agent-alpha disabled, and one without a default service
sed 's/^object_id = '"$ALPHA_OID"'$/&\nenabled = no/' "$conf" >"$PAM_WORK/disabled.conf"
printf '[global]\ntenant_id = nope\n' >"$PAM_WORK/broken.conf"

# service FILE: one pam.d file per test service, every phase of the module
svc() {
    local name=$1
    shift
    local args="config=$conf nodelay $*"
    cat >"$PAM_WORK/svc/$name" <<EOF
auth     required $mod $args
account  required $mod $args
session  required $mod $args
password required $mod $args
EOF
}
for s in sshd sudo su netsvc timed-in timed-out only-beta lock lockforever once young ftp; do
    svc "$s"
done
svc disabled-sshd "config=$PAM_WORK/disabled.conf"
# probe: success only when pam_openclaw answers PAM_IGNORE
probe() {
    local name=$1
    shift
    cat >"$PAM_WORK/svc/$name" <<EOF
auth     [ignore=1 default=die] $mod $*
auth     requisite pam_deny.so
auth     required pam_permit.so
account  [ignore=1 default=die] $mod $*
account  requisite pam_deny.so
account  required pam_permit.so
session  [ignore=1 default=die] $mod $*
session  requisite pam_deny.so
session  required pam_permit.so
password [ignore=1 default=die] $mod $*
password requisite pam_deny.so
password required pam_permit.so
EOF
}
probe probe-sshd "config=$conf nodelay"
probe probe-noconf "config=$PAM_WORK/missing.conf nodelay"
printf 'auth required %s config=%s nodelay\n' "$mod" "$PAM_WORK/broken.conf" >"$PAM_WORK/svc/broken"
printf 'auth required %s config=%s bogus_option\n' "$mod" "$conf" >"$PAM_WORK/svc/badarg"
printf 'auth required %s config=%s nodelay require_role=Host.Sudo\naccount required %s config=%s require_role=Host.Sudo\n' \
    "$mod" "$conf" "$mod" "$conf" >"$PAM_WORK/svc/sshd-sudo"
printf 'auth required %s config=%s nodelay mode=helper\naccount required %s config=%s mode=helper\n' \
    "$mod" "$conf" "$mod" "$conf" >"$PAM_WORK/svc/helper"
# use_first_pass: a first module instance prompts (and fails on the role), the
# second reuses PAM_AUTHTOK without prompting again
printf 'auth optional %s config=%s nodelay require_role=No.Such.Role\nauth required %s config=%s nodelay use_first_pass\n' \
    "$mod" "$conf" "$mod" "$conf" >"$PAM_WORK/svc/firstpass"
printf 'auth required %s config=%s nodelay use_first_pass\n' "$mod" "$conf" >"$PAM_WORK/svc/firstpass-only"
printf 'auth required %s config=%s nodelay prompt=Agent-credential\n' "$mod" "$conf" >"$PAM_WORK/svc/prompted"
printf 'auth required %s config=%s\n' "$mod" "$conf" >"$PAM_WORK/svc/delayed"
printf 'auth required pam_deny.so\naccount required pam_deny.so\n' >"$PAM_WORK/svc/other"

# pt SERVICE USER TOKENFILE [-I rhost=ADDR]: runs pamtester (or, in a
# sanitizer build, the instrumented driver) with OPS; sets out, rc
pt() {
    local service=$1 user=$2 tokfile=$3
    shift 3
    if [ -n "$SAN" ]; then
        local ropt=()
        [ "${1:-}" = -I ] && ropt=(-r "${2#rhost=}")
        out=$(timeout 60 "$conv" -d "$PAM_WORK/svc" "${ropt[@]}" "$service" "$user" \
            ${OPS:-authenticate acct_mgmt} <"$tokfile" 2>&1)
        rc=$?
    else
        out=$(LD_PRELOAD="$wrapper" PAM_WRAPPER=1 \
            PAM_WRAPPER_SERVICE_DIR="$PAM_WORK/svc" timeout 60 \
            ${PT_PREFIX:-} pamtester -v "$@" "$service" "$user" ${OPS:-authenticate acct_mgmt} \
            <"$tokfile" 2>&1)
        rc=$?
    fi
    printf '%s\n' "$out" >>"$PAM_WORK/all.out"
}
last_audit() { tail -n 1 "$OPENCLAW_TEST_AUDIT_FILE" 2>/dev/null; }
audit_has() { grep -q -- "$1" "$OPENCLAW_TEST_AUDIT_FILE" 2>/dev/null; }
clear_audit() { : >"$OPENCLAW_TEST_AUDIT_FILE"; }

# Failures of earlier checks must not lock the agents of later ones.
unlock_all() {
    [ -n "${KEEP_TALLY:-}" ] && return 0
    rm -f "$PAM_WORK"/tally/agent-*
}
# expect_ok DESC SERVICE USER TOKENFILE [args]
expect_ok() {
    local desc=$1
    shift
    unlock_all
    clear_audit
    pt "$@"
    if [ "$rc" -eq 0 ]; then
        tap_ok "$desc"
    else
        tap_fail "$desc" "rc=$rc $out
$(cat "$OPENCLAW_TEST_AUDIT_FILE" 2>/dev/null)"
    fi
}
# expect_refused DESC REASON SERVICE USER TOKENFILE [args]
expect_refused() {
    local desc=$1 reason=$2
    shift 2
    unlock_all
    clear_audit
    pt "$@"
    if [ "$rc" -ne 0 ] && grep -q "result=failure reason=$reason\( \|$\)" "$OPENCLAW_TEST_AUDIT_FILE"; then
        tap_ok "$desc: refused, reason=$reason"
    else
        tap_fail "$desc: refused, reason=$reason" "rc=$rc $out
$(cat "$OPENCLAW_TEST_AUDIT_FILE" 2>/dev/null)"
    fi
}

tk="$PAM_WORK/tok"
mkdir -p "$tk"
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/alpha"
tenant_token "$BETA_APP" "$BETA_SECRET" "$RESOURCE_URI/.default" >"$tk/beta"
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_V2_URI/.default" >"$tk/alpha-v2"
[ -s "$tk/alpha" ] && [ -s "$tk/beta" ] || tap_setup_fail "the tenant issued no token"
printf '\n' >"$tk/empty"
alpha_exp=$(token_claim "$tk/alpha" exp)
alpha_uti=$(token_claim "$tk/alpha" uti)

# --- accepted --------------------------------------------------------------
OPS="authenticate acct_mgmt open_session close_session setcred" \
    expect_ok "agent-alpha logs in to sshd with its token (auth, account, session, setcred)" \
    sshd agent-alpha "$tk/alpha"
if audit_has "event=auth service=sshd user=agent-alpha agent_app_id=$ALPHA_APP agent_oid=$ALPHA_OID token_uti=$alpha_uti rhost=- result=success reason=ok" &&
    audit_has "event=account service=sshd user=agent-alpha .* result=success reason=ok" &&
    audit_has "event=session-open .*result=success" && audit_has "event=session-close .*result=success"; then
    tap_ok "audit lines for auth, account, session open/close with stable fields"
else
    tap_fail "audit lines for auth, account, session open/close with stable fields" "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
sig=$(cut -d. -f3 <"$tk/alpha")
payload=$(cut -d. -f2 <"$tk/alpha")
if ! grep -qF -- "${sig:0:40}" "$OPENCLAW_TEST_AUDIT_FILE" && ! grep -qF -- "${payload:0:40}" "$OPENCLAW_TEST_AUDIT_FILE"; then
    tap_ok "the token never appears in the audit"
else
    tap_fail "the token never appears in the audit"
fi
expect_ok "a token with CR LF line end is accepted" sshd agent-alpha <(printf '%s\r\n' "$(cat "$tk/alpha")")
expect_ok "rhost inside allow_networks" netsvc agent-alpha "$tk/alpha" -I rhost=10.1.2.3
expect_ok "IPv6 rhost inside allow_networks" netsvc agent-alpha "$tk/alpha" -I rhost=fd00::7
expect_ok "inside allow_time" timed-in agent-alpha "$tk/alpha"
expect_ok "allow_agents lists agent-beta, which needs no role there" only-beta agent-beta "$tk/beta"
OPS=authenticate expect_ok "use_first_pass reuses PAM_AUTHTOK set by an earlier module (one line of input)" \
    firstpass agent-alpha "$tk/alpha"
OPS=authenticate expect_ok "prompt= text accepted" prompted agent-alpha "$tk/alpha"

# --- refused by the token ----------------------------------------------------
expect_refused "agent-beta's token lacks Host.Login" role sshd agent-beta "$tk/beta"
expect_refused "token without Host.Sudo for sudo" role sudo agent-alpha "$tk/alpha"
expect_refused "require_role= argument overrides the service's role" role sshd-sudo agent-alpha "$tk/alpha"
expect_refused "agent-alpha's token for user agent-beta" user sshd agent-beta "$tk/alpha"
printf '%s.%s.%s' "$(cut -d. -f1 <"$tk/alpha")" "$(cut -d. -f2 <"$tk/beta")" "$sig" >"$tk/spliced"
expect_refused "payload swapped under a valid signature" signature sshd agent-alpha "$tk/spliced"
expect_refused "v2 token for another resource" audience sshd agent-alpha "$tk/alpha-v2"
OPENCLAW_TEST_NOW=$((alpha_exp + 3600)) expect_refused "after expiry" expiry sshd agent-alpha "$tk/alpha"
OPENCLAW_TEST_NOW=$(($(token_claim "$tk/alpha" iat) + 1000)) \
    expect_refused "older than max_token_age" max-age young agent-alpha "$tk/alpha"
resign_token "$tk/alpha" "{\"oid\": \"$BETA_OID\", \"sub\": \"$BETA_OID\"}" >"$tk/wrong-oid"
expect_refused "alpha's appid with another object id" agent sshd agent-alpha "$tk/wrong-oid"
resign_token "$tk/alpha" '{"appid": "99999999-9999-4999-8999-999999999999"}' >"$tk/stranger"
expect_refused "application that is not a configured agent" agent sshd agent-alpha "$tk/stranger"
expect_refused "empty answer" no-token sshd agent-alpha "$tk/empty"

# --- the chunked continuation protocol, answered like ssh + openclaw-askpass ---
askpass="$top_srcdir/helper/client/openclaw-askpass"
svc chunked
# (re)sign alpha's claims with filler so the token is > 2 KB, as tokens with many roles are
resign_token "$tk/alpha" "{\"xms_filler\": \"$(head -c 900 /dev/zero | tr '\0' x)\"}" >"$tk/big"
chmod 600 "$tk/big"
askpass_run() {
    clear_audit
    unlock_all
    if [ -n "$SAN" ]; then
        out=$(OPENCLAW_TOKEN_FILE=$1 OPENCLAW_CONFIG=$conf timeout 60 "$conv" -d "$PAM_WORK/svc" -k "$askpass" \
            "$2" "$3" authenticate acct_mgmt 2>&1)
    else
        out=$(OPENCLAW_TOKEN_FILE=$1 OPENCLAW_CONFIG=$conf LD_PRELOAD="$wrapper" PAM_WRAPPER=1 \
            PAM_WRAPPER_SERVICE_DIR="$PAM_WORK/svc" timeout 60 "$conv" -k "$askpass" \
            "$2" "$3" authenticate acct_mgmt 2>&1)
    fi
    rc=$?
    printf '%s\n' "$out" >>"$PAM_WORK/all.out"
}
if [ -x "$conv" ]; then
    askpass_run "$tk/big" chunked agent-alpha
    n=$(printf '%s\n' "$out" | grep -c '^prompt: Entra token \[')
    want=$(($(tr -d '\n' <"$tk/big" | wc -c) / 500 + 1))
    if [ "$rc" -eq 0 ] && [ "$(wc -c <"$tk/big")" -gt 2000 ] && [ "$n" -eq "$want" ]; then
        tap_ok "a $(wc -c <"$tk/big")-byte token in $n chunks through askpass answers cut at 1023 bytes"
    else
        tap_fail "a >2 KB token in chunks through askpass answers cut at 1023 bytes" "rc=$rc n=$n $out"
    fi
    head -c 2000 "$tk/big" | tr -d '\n' >"$tk/exact2000"
    chmod 600 "$tk/exact2000"
    askpass_run "$tk/exact2000" chunked agent-alpha
    n=$(printf '%s\n' "$out" | grep -c '^prompt: Entra token \[')
    if [ "$rc" -ne 0 ] && [ "$n" -eq 5 ]; then
        tap_ok "a token of exactly 4 chunks ends with an empty fifth answer"
    else
        tap_fail "a token of exactly 4 chunks ends with an empty fifth answer" "rc=$rc n=$n $out"
    fi
    # JWT-shaped, for the host's audience (askpass sends nothing else)
    printf 'x.%s.%s' "$(printf '{"aud":"%s"}' "$RESOURCE_URI" | base64 -w0 | tr '+/' '-_' | tr -d =)" \
        "$(head -c 17000 /dev/zero | tr '\0' a)" >"$tk/huge"
    chmod 600 "$tk/huge"
    askpass_run "$tk/huge" chunked agent-alpha
    if [ "$rc" -ne 0 ] && audit_has "result=failure reason=size"; then
        tap_ok "more than 16 KiB in chunks: refused, reason=size"
    else
        tap_fail "more than 16 KiB in chunks: refused, reason=size" "rc=$rc $out"
    fi
else
    tap_skip "chunked protocol through askpass" "pam-askpass-conv not built (make check builds it)"
fi
expect_refused "use_first_pass without PAM_AUTHTOK" no-token firstpass-only agent-alpha "$tk/alpha"

# --- refused by host policy ------------------------------------------------
expect_refused "agent disabled in the config" agent disabled-sshd agent-alpha "$tk/alpha"
expect_refused "service with no section and no default" service ftp agent-alpha "$tk/alpha"
expect_refused "agent not in allow_agents" allow-agents only-beta agent-alpha "$tk/alpha"
expect_refused "rhost outside allow_networks" network netsvc agent-alpha "$tk/alpha" -I rhost=192.0.2.9
expect_refused "no rhost for a network-limited service" network netsvc agent-alpha "$tk/alpha"
expect_refused "rhost given as a host name" network netsvc agent-alpha "$tk/alpha" -I rhost=ten.example
expect_refused "outside allow_time" time timed-out agent-alpha "$tk/alpha"
if audit_has "event=account .*reason=time"; then
    tap_ok "network and time are decided in the account phase"
else
    tap_fail "network and time are decided in the account phase" "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
OPS=acct_mgmt expect_refused "account without a token, service requires a role" role sshd agent-alpha /dev/null
OPS=acct_mgmt expect_ok "account without a token, service requires no role" timed-in agent-alpha /dev/null
OPS="authenticate acct_mgmt" expect_refused "mode=helper with no helper running" helper-unavailable helper agent-alpha "$tk/alpha"

# --- users that are not agents ------------------------------------------------
OPS="authenticate acct_mgmt open_session close_session chauthtok" \
    expect_ok "a human user: PAM_IGNORE in auth, account, session, password" probe-sshd root "$tk/alpha"
OPS="authenticate acct_mgmt open_session close_session chauthtok" \
    expect_ok "missing config: PAM_IGNORE for everyone" probe-noconf agent-alpha "$tk/alpha"
# Invalid or missing config: who is an agent is decided without it (root
# and /etc/passwd users never are; else an agent uid through NSS, here
# nss_wrapper's files): people are ignored, agents refused (docs/pam.md).
nssw=$(ls /usr/lib/*/libnss_wrapper.so /usr/lib/libnss_wrapper.so 2>/dev/null | head -n1)
if [ -n "$SAN" ]; then
    tap_skip "invalid or missing config: people ignored, agents refused" "sanitizer build: pamtester and nss_wrapper lack the ASan runtime"
elif [ -z "$nssw" ]; then
    tap_skip "invalid or missing config: people ignored, agents refused" "nss_wrapper missing (libnss-wrapper)"
else
    printf 'agent-alpha:x:1879048300:1879048300::/tmp:/bin/sh\nldap-human:x:5000:5000::/tmp:/bin/sh\nroot:x:0:0::/root:/bin/sh\n' >"$PAM_WORK/nssw.passwd"
    printf 'agent-alpha:x:1879048300:\nldap-human:x:5000:\nroot:x:0:\n' >"$PAM_WORK/nssw.group"
    nssw_prefix="env LD_PRELOAD=$nssw:$wrapper NSS_WRAPPER_PASSWD=$PAM_WORK/nssw.passwd NSS_WRAPPER_GROUP=$PAM_WORK/nssw.group"
    probe probe-broken "config=$PAM_WORK/broken.conf nodelay"
    for who in root ldap-human; do
        PT_PREFIX=$nssw_prefix OPS="authenticate acct_mgmt open_session close_session chauthtok" \
            expect_ok "invalid config: $who is not an agent: PAM_IGNORE in auth, account, session, password" probe-broken "$who" "$tk/alpha"
    done
    for svc in broken probe-broken probe-noconf; do
        clear_audit
        PT_PREFIX=$nssw_prefix pt "$svc" agent-alpha "$tk/alpha"
        if [ "$rc" -ne 0 ] && audit_has "result=error reason=config"; then
            tap_ok "$svc: user with an agent uid refused with an error, reason=config"
        else
            tap_fail "$svc: user with an agent uid refused with an error, reason=config" "rc=$rc $out"
        fi
    done
    clear_audit
    pt broken agent-alpha "$tk/alpha"
    if [ "$rc" -ne 0 ] && ! audit_has "reason=config"; then
        tap_ok "invalid config: a user that does not resolve is not an agent (ignored)"
    else
        tap_fail "invalid config: a user that does not resolve is not an agent (ignored)" "rc=$rc $out"
    fi
fi
pt badarg agent-alpha "$tk/alpha"
if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -qi "error in service module"; then
    tap_ok "unknown module argument: PAM_SERVICE_ERR"
else
    tap_fail "unknown module argument: PAM_SERVICE_ERR" "rc=$rc $out"
fi

# --- password ------------------------------------------------------------------
clear_audit
OPS=chauthtok pt sshd agent-alpha /dev/null
if [ "$rc" -ne 0 ] && printf '%s' "$out" | grep -q "rotate in Entra ID" && audit_has "event=password .*reason=password-change"; then
    tap_ok "password change refused for an agent, with the reason"
else
    tap_fail "password change refused for an agent, with the reason" "rc=$rc $out"
fi

# --- session environment -----------------------------------------------------
OPS="open_session" pt sshd agent-alpha /dev/null
tap_check "session open succeeds without a helper running" test "$rc" -eq 0

# --- failure delay -------------------------------------------------------------
start=$(date +%s%N)
pt delayed agent-alpha "$tk/empty"
ms=$((($(date +%s%N) - start) / 1000000))
if [ "$rc" -ne 0 ] && [ "$ms" -ge 1000 ]; then
    tap_ok "a failure is delayed by pam_fail_delay (${ms} ms)"
else
    tap_fail "a failure is delayed by pam_fail_delay (${ms} ms)" "rc=$rc"
fi
ctl agent unlock agent-alpha --config "$conf" >/dev/null 2>&1 || true

# --- lockout ---------------------------------------------------------------------
KEEP_TALLY=1
ctl agent unlock agent-alpha --config "$conf" >/dev/null 2>&1
clear_audit
# the agent's own signed token for another audience: only signed input counts
for i in 1 2 3; do pt lock agent-alpha "$tk/alpha-v2"; done
if audit_has "event=anomaly service=lock user=agent-alpha .*result=failure reason=lockout"; then
    tap_ok "3 failures within 60 s lock the agent and raise event=anomaly"
else
    tap_fail "3 failures within 60 s lock the agent and raise event=anomaly" "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
expect_refused "a valid token while locked" locked lock agent-alpha "$tk/alpha"
OPS=acct_mgmt expect_refused "account while locked" locked lock agent-alpha /dev/null
if grep -Eq 'reason=locked detail="locked until [0-9]+ \(20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\)"' \
    "$OPENCLAW_TEST_AUDIT_FILE"; then
    tap_ok "the lockout detail gives the end in ISO 8601 UTC next to the epoch"
else
    tap_fail "the lockout detail gives the end in ISO 8601 UTC next to the epoch" "$(cat "$OPENCLAW_TEST_AUDIT_FILE")"
fi
st=$(ctl agent status agent-alpha --config "$conf" 2>&1)
src=$?
if [ "$src" -eq 1 ] && printf '%s' "$st" | grep -q "LOCKED" && printf '%s' "$st" | grep -q "failures:     3"; then
    tap_ok "openclawctl agent status shows the lock (exit 1)"
else
    tap_fail "openclawctl agent status shows the lock (exit 1)" "rc=$src $st"
fi
OPENCLAW_TEST_NOW=$(($(date +%s) + 601)) expect_ok "the lock ends after unlock_time" lock agent-alpha "$tk/alpha"
st=$(ctl agent status agent-alpha --config "$conf" 2>&1)
tap_check "a success clears the tally" sh -c 'printf "%s" "$1" | grep -q "failures:     0"' _ "$st"
for i in 1 2; do pt lockforever agent-alpha "$tk/alpha-v2"; done
OPENCLAW_TEST_NOW=$(($(date +%s) + 3000)) expect_refused "unlock_time = 0 locks until an admin unlocks" locked lockforever agent-alpha "$tk/alpha"
out=$(ctl agent unlock agent-alpha --config "$conf" 2>&1)
tap_check "openclawctl agent unlock" test $? -eq 0
expect_ok "accepted after the admin unlock" lockforever agent-alpha "$tk/alpha"
out=$(ctl agent status ../etc --config "$conf" 2>&1)
tap_check "agent names with / or .. are refused" test $? -eq 2
for i in 1 2 3; do pt lock agent-beta "$tk/beta"; done
expect_ok "one agent's lock does not lock another" sshd agent-alpha "$tk/alpha"
KEEP_TALLY=
ctl agent unlock agent-beta --config "$conf" >/dev/null 2>&1
if [ "$(stat -c %a "$PAM_WORK/tally")" = 700 ] && [ "$(stat -c %a "$PAM_WORK/tally/agent-alpha")" = 600 ]; then
    tap_ok "tally directory 0700, tally files 0600"
else
    tap_fail "tally directory 0700, tally files 0600" "$(ls -la "$PAM_WORK/tally")"
fi

# --- one-time tokens -------------------------------------------------------------
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/once"
expect_ok "one_time_tokens: first use accepted" once agent-alpha "$tk/once"
expect_refused "one_time_tokens: second use refused" replay once agent-alpha "$tk/once"
expect_ok "one_time_tokens off: the same token again for sshd" sshd agent-alpha "$tk/once"
OPENCLAW_TEST_NOW=$(($(token_claim "$tk/once" exp) + 200)) \
    expect_refused "the uti is kept while the token is within the clock skew after exp" replay once agent-alpha "$tk/once"
OPENCLAW_TEST_NOW=$(($(token_claim "$tk/once" exp) + 400)) \
    expect_refused "after exp + skew the token is refused as expired" expiry once agent-alpha "$tk/once"

# --- unknown kid (last: rotates the tenant's key) -----------------------------
tenant_ctl POST rotate-keys '{}' >/dev/null
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$tk/rotated"
expect_refused "kid not in the JWKS cache, no helper: decided from the cache" kid sshd agent-alpha "$tk/rotated"
tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$PAM_WORK/jwks/keys.json.new"
mv -f "$PAM_WORK/jwks/keys.json.new" "$PAM_WORK/jwks/keys.json"
expect_ok "accepted once the JWKS cache file holds the new key" sshd agent-alpha "$tk/rotated"

# --- memory checks ---------------------------------------------------------------
if [ -n "$SAN" ]; then
    if grep -q "AddressSanitizer\|LeakSanitizer\|runtime error:" "$PAM_WORK/all.out"; then
        tap_fail "ASan/UBSan over every run above: no reports" "$(grep -B2 -A30 "Sanitizer\|runtime error:" "$PAM_WORK/all.out" | head -60)"
    else
        tap_ok "ASan/UBSan/LSan over every run above: no reports"
    fi
    tap_skip "valgrind over pamtester" "sanitizer build: ASan checked every run instead"
elif ! command -v valgrind >/dev/null; then
    tap_skip "valgrind over pamtester" "valgrind missing"
else
    vg_ok=true
    for run in "sshd agent-alpha $tk/alpha" "sshd agent-beta $tk/beta" "sshd agent-alpha $tk/spliced" \
        "once agent-alpha $tk/once" "probe-sshd root $tk/alpha"; do
        set -- $run
        OPS="authenticate acct_mgmt open_session close_session" \
            PT_PREFIX="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --log-file=$PAM_WORK/vg.%p" \
            pt "$@"
        if [ "$rc" -eq 99 ] || grep -qs "pam_openclaw\|libocpam\|oc_" "$PAM_WORK"/vg.*; then
            vg_ok=false
            tap_fail "valgrind: $1 $2" "$(cat "$PAM_WORK"/vg.* 2>/dev/null | head -40)"
        fi
        rm -f "$PAM_WORK"/vg.*
        # pam_wrapper leaves its /tmp/pam.X copies behind under valgrind:
        # remove the ones holding this run's service files
        for d in /tmp/pam.?; do
            [ -f "$d/badarg" ] && grep -qs -- "$PAM_WORK" "$d/sshd" && rm -rf "$d"
        done
    done
    $vg_ok && tap_ok "valgrind over pamtester: no errors and no leaks from the module (5 runs)"
fi

tap_done
