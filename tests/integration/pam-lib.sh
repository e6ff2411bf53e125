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
