# tests/integration/pam-lib.sh: helpers for the pam_openclaw suites (sourced).
#   pam_module                  path of the built pam_openclaw.so
#   pam_sanitizer_preload       ASan runtime to preload before a plain program, or ""
#   pam_write_config FILE EXTRA prints a config for the demo tenant + EXTRA
#   token_claim FILE CLAIM      prints a claim of the (unverified) token in FILE
#   sign_token CLAIMS_JSON      prints a token the tenant signed over CLAIMS_JSON

pam_module() {
    printf '%s\n' "$top_builddir/pam_openclaw/.libs/pam_openclaw.so"
}

# The module of a sanitizer build needs the ASan runtime loaded first into
# programs that were not built with it (pamtester, sshd, sudo, su).
pam_sanitizer_preload() {
    local so rt
    so=$(pam_module)
    rt=$(ldd "$so" 2>/dev/null | awk '/libasan/ { print $3; exit }')
    if [ -z "$rt" ] && nm -u "$so" 2>/dev/null | grep -q __asan_; then
        rt=$(clang -print-file-name=libclang_rt.asan-x86_64.so 2>/dev/null)
    fi
    printf '%s\n' "$rt"
}

pam_write_config() {
    local file=$1 extra=${2:-}
    cat >"$file.tmp" <<CONF
[global]
tenant_id = $TENANT_ID
audiences = $RESOURCE_URI
trust_dir = $PAM_WORK/trust
jwks_dir = $PAM_WORK/jwks
tally_dir = $PAM_WORK/tally
runtime_dir = $PAM_WORK/run
socket = $PAM_WORK/run/openclawd.sock
uid_min = 1879048192
uid_max = 2147352575

[service sshd]
require_role = Host.Login

[service sudo]
require_role = Host.Sudo

[service su]
require_role = Host.Login

$extra

[agent agent-alpha]
app_id = $ALPHA_APP
object_id = $ALPHA_OID

[agent agent-beta]
app_id = $BETA_APP
object_id = $BETA_OID
CONF
    chmod 0644 "$file.tmp"
    mv -f "$file.tmp" "$file"
}

token_claim() {
    "$OC_PY" -c '
import sys, json, base64
p = open(sys.argv[1]).read().strip().split(".")[1]
v = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))[sys.argv[2]]
print(json.dumps(v) if isinstance(v, (list, dict)) else v)' "$1" "$2"
}

# Re-sign the claims of token FILE with changes given as JSON (null deletes).
resign_token() {
    local file=$1 changes=$2 body
    body=$("$OC_PY" -c '
import sys, json, base64
p = open(sys.argv[1]).read().strip().split(".")[1]
c = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
for k, v in json.loads(sys.argv[2]).items():
    if v is None:
        c.pop(k, None)
    else:
        c[k] = v
print(json.dumps({"claims": c, "x5t": True}))' "$file" "$changes")
    tenant_ctl POST sign "$body" | json_get token
}

# --- root's keys (openclaw-sync) -------------------------------------------
#   trust_conf_lines            the [global] lines openclaw-sync needs to
#                               reach the local tenant (authority, CA, issuer)
#   trust_conf FILE             adds them to FILE's [global] section
#   trust_sync FILE             openclaw-sync --force on config FILE, as
#                               root (what the timer does); its output goes
#                               to $PAM_WORK/sync.log
#   trust_watch_start FILE      what openclaw-sync.path does: runs
#                               openclaw-sync whenever jwks_dir holds
#                               refresh-requested (bounded: 10 min, polls
#                               every 0.1 s); trust_watch_stop ends it by PID
trust_conf_lines() {
    printf 'authority = %s\nca_file = %s\nissuer_v2 = https://login.microsoftonline.com/{tenantid}/v2.0\n' \
        "$TENANT_URL" "$TENANT_CA"
}
trust_conf() {
    trust_conf_lines >"$1.trust"
    sed -i "/^\[global\]\$/r $1.trust" "$1"
    rm -f "$1.trust"
}
trust_sync() {
    "$top_builddir/helper/sync/openclaw-sync" --config "$1" --force >>"${TRUST_LOG:-$PAM_WORK/sync.log}" 2>&1
}
TRUST_WATCH_PID=
trust_watch_start() {
    local conf=$1 dir
    dir=$(sed -n 's/^jwks_dir = //p' "$conf" | head -n1)
    (
        for _ in $(seq 1 6000); do
            if [ -e "$dir/refresh-requested" ]; then
                "$top_builddir/helper/sync/openclaw-sync" --config "$conf" >>"${TRUST_LOG:-$PAM_WORK/sync.log}" 2>&1
            fi
            sleep 0.1
        done
    ) &
    TRUST_WATCH_PID=$!
}
trust_watch_stop() {
    [ -n "$TRUST_WATCH_PID" ] || return 0
    kill "$TRUST_WATCH_PID" 2>/dev/null
    wait "$TRUST_WATCH_PID" 2>/dev/null
    TRUST_WATCH_PID=
}
