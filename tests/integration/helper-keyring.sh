#!/bin/sh
# openclaw-token --keyring: the agent's token kept in its session's Secret
# Service keyring. Headless: a private session bus (dbus-run-session) and
# gnome-keyring-daemon (secrets component, unlocked) under agent-alpha's
# uid, the daemon against the local tenant with 30 s tokens. Checks: the
# token is stored under org.openclaw.Token {agent, scope} and found with
# secret-tool; it is replaced by a fresh one before it expires; SIGTERM
# ends the loop and removes the item; the loop ends by itself when the
# session bus goes away; a uid without an agent is refused at once; no
# session bus: a clear error. Prints TAP.
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/lib/tenant.sh"
. "$top_srcdir/tests/integration/helper-lib.sh"

[ "$(id -u)" = 0 ] || tap_skip_all "needs root (the session runs under an agent's uid with setpriv)"
command -v setpriv >/dev/null 2>&1 || tap_skip_all "setpriv (util-linux) missing"
[ -x "$OCD" ] && [ -x "$OCT" ] || tap_skip_all "openclawd not built"
"$PY" -c 'import cryptography' 2>/dev/null || tap_skip_all "python3-cryptography missing"
for t in dbus-run-session dbus-send gnome-keyring-daemon secret-tool; do
    command -v $t >/dev/null 2>&1 ||
        tap_skip_all "$t missing: apt-get install dbus gnome-keyring libsecret-tools"
done

NSSW=""
for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    [ -f "$d/libnss_wrapper.so" ] && NSSW=$d/libnss_wrapper.so && break
done
# dbus-daemon wants a passwd entry for the session's uid: nss_wrapper gives one.
[ -n "$NSSW" ] || tap_skip_all "libnss_wrapper.so not found (apt-get install libnss-wrapper)"

UID_A=1879048193 # agent-alpha
UID_HUMAN=4242
SCOPE="$RESOURCE_URI/.default"
LIFETIME=30

work=$(mktemp -d "${TMPDIR:-/tmp}/oc-keyring.XXXXXX")
chmod 755 "$work"
uid_copies "$work/bin" # what runs under other uids: copies, never the tree
HELPER_PID_main=""
cleanup() {
    local f
    # Processes the sessions started, by the PIDs they wrote down.
    for f in "$work"/out-*/*.pid; do
        [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null
    done
    helper_stop "$HELPER_PID_main"
    tenant_stop
    rm -rf "$work"
}
trap cleanup EXIT

# The tenant with short-lived tokens, so a refresh happens within the test.
TENANT_DIR=$work/tenant
mkdir -p "$TENANT_DIR"
if "$top_srcdir/tests/tenant/tenant" --state "$TENANT_DIR" --port 0 --daemon \
    --token-lifetime $LIFETIME >/dev/null; then
    TENANT_URL=$(cat "$TENANT_DIR/url")
    TENANT_CA=$TENANT_DIR/ca.pem
    export TENANT_DIR TENANT_URL TENANT_CA
else
    echo "1..1"
    echo "not ok 1 - local tenant starts"
    exit 1
fi

printf 'agent-alpha:x:%s:%s::%s:/bin/sh\nhuman:x:%s:%s::%s:/bin/sh\n' \
    $UID_A $UID_A "$work/home-$UID_A" $UID_HUMAN $UID_HUMAN "$work/home-$UID_HUMAN" >"$work/passwd"
printf 'agent-alpha:x:%s:\nhuman:x:%s:\n' $UID_A $UID_HUMAN >"$work/group"
chmod 644 "$work/passwd" "$work/group"
printf '%s\n' "$ALPHA_SECRET" >"$work/alpha.secret"
chmod 600 "$work/alpha.secret"
S=$work/openclawd.sock
{
    conf_global "$work/state" "$S" "allow_insecure_credentials = yes"
    conf_agent agent-alpha "$ALPHA_APP" "$ALPHA_OID" "uid = $UID_A" "credential = secret-file" \
        "secret_file = $work/alpha.secret"
} >"$work/main.conf"
chmod 644 "$work/main.conf"
mkdir -p "$work/state"
if ! helper_start main "$work/main.conf"; then
    tap_fail "openclawd starts" "$(cat "$work/main.log")"
    tap_done
    exit 1
fi

# A session of UID: private HOME and runtime dir, its own bus, an unlocked
# keyring; runs the script $2 inside (with $OUT, $OCT, $S, $SCOPE set).
session() { # UID SCRIPT
    local uid=$1 home=$work/home-$1
    mkdir -p "$home/run" "$home/data" "$work/out-$uid"
    chmod 700 "$home/run"
    chown -R "$uid" "$home" "$work/out-$uid"
    as_uid "$uid" env -i PATH="$PATH" HOME="$home" XDG_RUNTIME_DIR="$home/run" \
        LD_PRELOAD="$NSSW" NSS_WRAPPER_PASSWD="$work/passwd" NSS_WRAPPER_GROUP="$work/group" \
        XDG_DATA_HOME="$home/data" OUT="$work/out-$uid" OCT="$OCT" S="$S" SCOPE="$SCOPE" \
        LIFETIME="$LIFETIME" dbus-run-session -- sh -c '
# In the foreground: its PID is known, and it is stopped by it at the end.
printf pw | gnome-keyring-daemon --foreground --unlock --components=secrets >/dev/null 2>&1 &
gk=$!
echo $gk >"$OUT/gnome-keyring.pid"
trap "kill -TERM $gk 2>/dev/null" EXIT
# Wait until it owns the Secret Service name, asking the bus (a client call
# to the name itself could make the bus start another, locked, keyring).
i=0
until dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null |
    grep -q "boolean true" || [ $i -ge 100 ]; do
    sleep 0.1; i=$((i + 1))
done
# openclaw-token runs without the preloaded nss_wrapper (it is for dbus-daemon;
# a sanitizer build of openclaw-token cannot have it loaded first)
'"$2" >"$work/session-$uid.out" 2>&1
}
lookup='secret-tool lookup agent agent-alpha scope "$SCOPE"'

# --- stored, found with secret-tool, refreshed, removed on SIGTERM ---------
t_start=$(date +%s)
session $UID_A '
env -u LD_PRELOAD "$OCT" --socket "$S" --keyring 2>"$OUT/keyring.err" &
k=$!
echo $k >"$OUT/keyring.pid"
i=0
until [ -n "$(secret-tool lookup agent agent-alpha scope "$SCOPE")" ] || [ $i -ge 100 ]; do
    sleep 0.1; i=$((i + 1))
done
secret-tool lookup agent agent-alpha scope "$SCOPE" >"$OUT/first.tok"
env -u LD_PRELOAD "$OCT" --socket "$S" >"$OUT/daemon.tok"
secret-tool search --all agent agent-alpha 2>&1 | grep -E "^(label|attribute|schema)" >"$OUT/search.txt"
# Wait (bounded) for a different token: the daemon refreshed, the loop picked it up.
i=0
while [ $i -lt 600 ]; do
    t=$(secret-tool lookup agent agent-alpha scope "$SCOPE")
    if [ -n "$t" ] && [ "$t" != "$(cat "$OUT/first.tok")" ]; then
        printf "%s" "$t" >"$OUT/second.tok"
        date +%s >"$OUT/second.time"
        break
    fi
    sleep 0.1; i=$((i + 1))
done
kill -TERM $k
wait $k
echo $? >"$OUT/keyring.rc"
secret-tool lookup agent agent-alpha scope "$SCOPE" >"$OUT/after.tok"
'
OA=$work/out-$UID_A
first=$(cat "$OA/first.tok" 2>/dev/null)
if [ -n "$first" ] && [ "$(jwt_claim "$first" appid)" = "$ALPHA_APP" ] &&
    [ "$first" = "$(cat "$OA/daemon.tok")" ]; then
    tap_ok "--keyring stores agent-alpha's token; secret-tool lookup agent/scope finds it"
else
    tap_fail "--keyring stores the token" "$(cat "$OA/keyring.err" "$work/session-$UID_A.out" 2>&1 | tail -8)"
fi
grep -q "schema = org.openclaw.Token" "$OA/search.txt" &&
    grep -q "attribute.scope = $SCOPE" "$OA/search.txt" &&
    grep -q "label = openclaw token of agent agent-alpha" "$OA/search.txt" &&
    tap_ok "item: schema org.openclaw.Token, attributes agent and scope, a readable label" ||
    tap_fail "item schema, attributes and label" "$(cat "$OA/search.txt")"
second=$(cat "$OA/second.tok" 2>/dev/null)
if [ -n "$second" ] && [ "$(jwt_claim "$second" appid)" = "$ALPHA_APP" ] &&
    [ "$(jwt_claim "$second" exp)" -gt "$(jwt_claim "$first" exp)" ] &&
    [ "$(cat "$OA/second.time")" -lt "$(jwt_claim "$first" exp)" ]; then
    tap_ok "replaced by a fresh token before the first expired ($(($(cat "$OA/second.time") - t_start)) s, ${LIFETIME} s tokens)"
else
    tap_fail "replaced by a fresh token before expiry" "$(tail -5 "$OA/keyring.err")"
fi
[ "$(cat "$OA/keyring.rc" 2>/dev/null)" = 0 ] && [ ! -s "$OA/after.tok" ] &&
    tap_ok "SIGTERM: exit 0 and the item is removed from the keyring" ||
    tap_fail "SIGTERM: exit 0, item removed" "rc=$(cat "$OA/keyring.rc" 2>/dev/null) $(tail -5 "$work/session-$UID_A.out" "$OA/keyring.err" 2>&1)"
grep -qF -- "$(printf '%s' "$first" | cut -d. -f3)" "$OA/keyring.err" "$work/main.log" &&
    tap_fail "no token on openclaw-token's stderr or in the daemon log" ||
    tap_ok "no token on openclaw-token's stderr or in the daemon log"

# --- the session bus goes away: the loop ends by itself -------------------------
rm -f "$OA/keyring.pid"
session $UID_A '
env -u LD_PRELOAD "$OCT" --socket "$S" --keyring 2>"$OUT/bus.err" &
echo $! >"$OUT/keyring.pid"
i=0
until [ -n "$(secret-tool lookup agent agent-alpha scope "$SCOPE")" ] || [ $i -ge 100 ]; do
    sleep 0.1; i=$((i + 1))
done
' # the shell exits: dbus-run-session ends the bus
kp=$(cat "$OA/keyring.pid" 2>/dev/null)
if [ -n "$kp" ] && wait_for 10 sh -c "! kill -0 $kp 2>/dev/null" &&
    grep -q "session bus closed" "$OA/bus.err"; then
    tap_ok "the session bus closes: the keyring loop exits by itself"
else
    tap_fail "the session bus closes: the keyring loop exits" "$(cat "$OA/bus.err" 2>&1)"
    [ -n "$kp" ] && kill -TERM "$kp" 2>/dev/null
fi

# --- refusals and errors ---------------------------------------------------------
OH=$work/out-$UID_HUMAN
session $UID_HUMAN '
timeout 20 env -u LD_PRELOAD "$OCT" --socket "$S" --keyring 2>"$OUT/human.err"
echo $? >"$OUT/human.rc"
'
[ "$(cat "$OH/human.rc" 2>/dev/null)" = 1 ] && grep -q denied "$OH/human.err" &&
    tap_ok "a uid without an agent: refused at once (exit 1)" ||
    tap_fail "a uid without an agent: refused" "rc=$(cat "$OH/human.rc" 2>/dev/null) $(cat "$OH/human.err" 2>&1)"
out=$(as_uid $UID_A env -u DBUS_SESSION_BUS_ADDRESS "$OCT" --socket "$S" --keyring 2>&1)
rc=$?
[ $rc -eq 2 ] && printf '%s' "$out" | grep -q "DBUS_SESSION_BUS_ADDRESS is not set" &&
    tap_ok "no session bus: exit 2 with what to do" ||
    tap_fail "no session bus: exit 2 with what to do" "rc=$rc $out"
"$OCT" --keyring --json >/dev/null 2>&1
[ $? -eq 2 ] && tap_ok "--keyring with --json is a usage error" ||
    tap_fail "--keyring with --json is a usage error"
tap_done
