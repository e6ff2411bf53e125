#!/bin/bash
# pam-fault-matrix.sh: fail safe for humans, fail closed for agents, on
# the real Debian stack (docs/pam.md, docs/reliability.md).
#
# As root in a private mount + network namespace: overlays (tmpfs upper
# layers) over /etc, /usr/share/pam-configs, /var/lib/pam,
# /var/cache/debconf, the multiarch lib dir (the built pam_openclaw.so and
# libnss_openclaw.so.2) and the modules' compiled-in config dir, so
# nothing reaches the host. The real pam-auth-update writes the common-*
# files of this machine's own /etc/pam.d with the shipped profile enabled,
# then disabled; root and a human (alice) get passwords with chpasswd; the
# agent (agent-alpha) resolves through libnss_openclaw only.
#
# Then, for each fault on openclaw's side (config missing, unparsable,
# owned by nobody, writable by others; JWKS cache missing, corrupt; NSS
# cache missing, corrupt; openclawd dead; tally directory unusable, or
# read-only):
#   login  pamtester login USER authenticate acct_mgmt (password / token)
#   su     su USER -c 'id -u', run by nobody, answer on stdin
#   sudo   sudo -S id -u, run by the user (root: no authentication)
#   sshd   a real sshd on 127.0.0.1 and the stock ssh client: passwords
#          through an SSH_ASKPASS script, the agent's token through
#          openclaw-askpass (keyboard-interactive)
#   cron   pamtester cron USER acct_mgmt
#   passwd pamtester passwd USER chauthtok (the shadow file is restored)
# for root, alice and agent-alpha with the profile enabled, and for root
# and alice again with the profile disabled. Every human result must be
# equal to its profile-disabled twin (compared, not assumed); the agent
# must get the expected result, and each refusal must come with a logged
# reason. Prints the matrix ("# " lines) and the figure
# "humans locked out by an openclaw fault: N of M".
set -u
. "$top_srcdir/tests/lib/tap.sh"
. "$top_srcdir/tests/system/pam-ns.sh"
. "$top_srcdir/tests/lib/tenant.sh"

FAULTS="none config-missing config-typo config-owner config-mode config-unreadable jwks-missing jwks-corrupt nss-missing nss-corrupt openclawd-dead tally-unusable tally-readonly disk-full"
# The negative control runs the inner part again with another profile and
# a few faults (OC_MATRIX_PROFILE, OC_MATRIX_FAULTS; set by this script).
FAULTS=${OC_MATRIX_FAULTS:-$FAULTS}
SERVICES="login su sudo sshd cron passwd"
PW_ROOT='Root-pw-f4ult-matrix'
PW_ALICE='Alice-pw-f4ult-matrix'
PW_NEW='New-pw-f4ult-matrix-9'

# The agent's expected result: y (gets in) or n (refused with a reason).
agent_expect() { # FAULT SERVICE
    [ "$2" = passwd ] && {
        echo n # agents have no password (pam_unix refuses them)
        return
    }
    case $1 in
    # a presented token needs no daemon; a success writes no tally
    none | openclawd-dead | tally-readonly | disk-full) echo y ;;
    config-* | tally-unusable) echo n ;;
    jwks-*) [ "$2" = cron ] && echo y || echo n ;; # account needs no keys
    nss-*)
        # the programs refuse a user that does not resolve; pamtester
        # drives PAM alone, where a configured agent needs no NSS entry
        case $2 in login | cron) echo y ;; *) echo n ;; esac
        ;;
    esac
}

# The log line an agent's refusal must come with (extended regex, on the
# syslog records and the program's stderr of that run).
agent_reason() { # FAULT SERVICE
    local unknown='Invalid user agent-alpha|does not exist|do not exist|user unknown|not known|could not identify user'
    if [ "$2" = passwd ]; then
        echo "pam_unix\\(passwd:chauthtok\\)|manipulation error|$unknown"
        return
    fi
    case $1 in
    # the NSS module cannot serve agents without a config either: su, sudo
    # and sshd refuse an unknown user; the module's own line is checked
    # once per config fault (below)
    config-*) echo "reason=config|run openclawctl check-config|$unknown" ;;
    jwks-*) echo 'result=error reason=jwks' ;;
    tally-*) echo 'result=error reason=tally' ;;
    nss-*) echo "$unknown" ;;
    *) echo 'pam_openclaw.*result=(failure|error)' ;;
    esac
}

if [ "${1:-}" = --inner ]; then
    w=$NS_WORK
    fail_setup() {
        ns_result fail "namespace setup: $1" "${2:-}"
        exit 0
    }
    NS_PAM_DIR=$(ns_pam_dir) || fail_setup "no PAM module dir"
    mount -t tmpfs -o mode=0755 oc-matrix "$w/ovl" || fail_setup "tmpfs"
    # ovl NAME DIR [LOWERTOP]: a writable overlay over DIR (upper on tmpfs)
    ovl() {
        mkdir -p "$w/ovl/$1.up" "$w/ovl/$1.wk"
        local lower=$2
        [ -n "${3:-}" ] && lower="$3:$2"
        mount -t overlay "oc-$1" -o "lowerdir=$lower,upperdir=$w/ovl/$1.up,workdir=$w/ovl/$1.wk" "$2"
    }
    ovl etc /etc || fail_setup "overlay /etc"
    ovl pamcfg /usr/share/pam-configs || fail_setup "overlay /usr/share/pam-configs"
    ovl varpam /var/lib/pam || fail_setup "overlay /var/lib/pam"
    ovl debconf /var/cache/debconf || fail_setup "overlay /var/cache/debconf"
    libdir=$(dirname "$NS_PAM_DIR")
    mkdir -p "$w/libtop/security"
    cp "$NS_MODULE" "$w/libtop/security/pam_openclaw.so"
    cp "$NS_NSS_MODULE" "$w/libtop/libnss_openclaw.so.2"
    chmod 0644 "$w/libtop/security/pam_openclaw.so" "$w/libtop/libnss_openclaw.so.2"
    mount -t overlay oc-lib -o "lowerdir=$w/libtop:$libdir" "$libdir" || fail_setup "overlay $libdir"
    anc=$(dirname "$NS_CONF")
    while [ ! -d "$anc" ]; do anc=$(dirname "$anc"); done
    ovl confanc "$anc" || fail_setup "overlay $anc"
    mkdir -p "$(dirname "$NS_CONF")"
    mount -t tmpfs -o mode=0755 oc-run /run || fail_setup "tmpfs /run"
    mkdir -p /run/sshd
    chmod 0755 /run/sshd
    ip link set lo up 2>/dev/null
    NS_SYSLOG_PID=
    syslog_ok=false
    ns_syslog_capture "$w" && syslog_ok=true
    sshd_pid=
    trap '[ -n "$sshd_pid" ] && kill "$sshd_pid" 2>/dev/null
        [ -n "$NS_SYSLOG_PID" ] && kill "$NS_SYSLOG_PID" 2>/dev/null' EXIT
    trap 'exit 143' TERM INT

    # --- users: root and alice with passwords; the agent only through NSS
    printf 'alice:x:4242:4242:a human:/tmp:/bin/sh\n' >>/etc/passwd
    printf 'alice:x:4242:\n' >>/etc/group
    printf 'alice:!:20000:0:99999:7:::\n' >>/etc/shadow
    printf 'root:%s\nalice:%s\n' "$PW_ROOT" "$PW_ALICE" | chpasswd 2>"$w/chpasswd.err" ||
        fail_setup "chpasswd" "$(cat "$w/chpasswd.err")"
    cp -p /etc/shadow "$w/shadow.good"
    sed -e 's/^passwd:.*/passwd: files openclaw/' -e 's/^group:.*/group: files openclaw/' \
        /etc/nsswitch.conf >"$w/nsswitch" && cat "$w/nsswitch" >/etc/nsswitch.conf
    printf 'Defaults !lecture, !fqdn, passwd_tries=1\nalice ALL=(ALL:ALL) ALL\nagent-alpha ALL=(ALL:ALL) ALL\n' >/etc/sudoers.d/oc-matrix
    chmod 0440 /etc/sudoers.d/oc-matrix
    grep -q '^@includedir /etc/sudoers.d\|^#includedir /etc/sudoers.d' /etc/sudoers ||
        printf '@includedir /etc/sudoers.d\n' >>/etc/sudoers

    # --- the real pam-auth-update with the shipped profile, on and off
    cp "${OC_MATRIX_PROFILE:-$top_srcdir/data/pam-configs/openclaw}" /usr/share/pam-configs/openclaw
    export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true
    pam-auth-update --enable openclaw >"$w/pau-on.out" 2>&1
    cp -a /etc/pam.d "$w/pamd-on"
    pam-auth-update --disable openclaw >"$w/pau-off.out" 2>&1
    cp -a /etc/pam.d "$w/pamd-off"
    if grep -q pam_openclaw "$w/pamd-on/common-auth" && grep -q pam_openclaw "$w/pamd-on/common-account" &&
        ! grep -q pam_openclaw "$w/pamd-on/common-password" && ! cat "$w/pamd-off"/* | grep -q pam_openclaw; then
        ns_result ok "pam-auth-update writes this machine's common-* with the profile (auth, account, session; no password) and without it"
    else
        ns_result fail "pam-auth-update writes the common-* files with and without the profile" \
            "$(cat "$w/pau-on.out" "$w/pau-off.out"; grep -h pam_openclaw "$w/pamd-on"/common-*)"
    fi
    {
        echo "## lines pam-auth-update wrote with the profile enabled"
        for f in common-auth common-account common-session common-password; do
            grep -v '^#' "$w/pamd-on/$f" | grep -v '^$' | sed "s|^|$f: |"
        done
    } >"$w/stack.txt"

    # --- openclaw's files
    mkdir -p "$w/jwks" "$w/tally" "$w/oc-run"
    chmod 0700 "$w/tally"
    cp "$w/keys.json.good" "$w/jwks/keys.json"
    cat >"$w/openclaw.conf.good" <<EOF
[global]
tenant_id = $TENANT_ID
audiences = $RESOURCE_URI
jwks_dir = $w/jwks
tally_dir = $w/tally
runtime_dir = $w/oc-run
socket = $w/oc-run/openclawd.sock
nss_cache = $w/nss.cache
uid_min = 1879048192
uid_max = 2147352575
home = /tmp
shell = /bin/sh

[service login]
require_role = Host.Login

[service su]
require_role = Host.Login

[service sshd]
require_role = Host.Login

[service sudo]
require_role = Host.Sudo

[service cron]

[service passwd]

[agent agent-alpha]
app_id = $ALPHA_APP
object_id = $ALPHA_OID
EOF
    "$NS_CTL" cache rebuild --config "$w/openclaw.conf.good" --output "$w/nss.cache.good" >"$w/cache.out" 2>&1 ||
        fail_setup "openclawctl cache rebuild" "$(cat "$w/cache.out")"

    # baseline: every openclaw file as it should be
    baseline() {
        [ -d "$NS_CONF" ] && rmdir "$NS_CONF"
        cp "$w/openclaw.conf.good" "$NS_CONF"
        chown root:root "$NS_CONF"
        chmod 0644 "$NS_CONF"
        cp "$w/keys.json.good" "$w/jwks/keys.json"
        cp "$w/nss.cache.good" "$w/nss.cache"
        chmod 0644 "$w/jwks/keys.json" "$w/nss.cache"
        umount "$w/tally" 2>/dev/null
        rm -rf "$w/tally" "$w/oc-run"
        mkdir -p "$w/tally" "$w/oc-run"
        chown root:root "$w/tally"
        chmod 0700 "$w/tally"
    }
    apply_fault() {
        baseline
        case $1 in
        none) ;;
        config-missing) rm -f "$NS_CONF" ;;
        config-typo) sed -i 's/^audiences =/audience =/' "$NS_CONF" ;;
        config-owner) chown nobody "$NS_CONF" ;;
        config-mode) chmod 0666 "$NS_CONF" ;;
        config-unreadable)
            # root reads any mode: a directory where the file should be
            rm -f "$NS_CONF"
            mkdir "$NS_CONF"
            ;;
        jwks-missing) rm -f "$w/jwks/keys.json" ;;
        jwks-corrupt) printf '{"keys": [{"kty": "RSA", "kid"' >"$w/jwks/keys.json" ;;
        nss-missing) rm -f "$w/nss.cache" ;;
        nss-corrupt) head -c 8192 /dev/urandom >"$w/nss.cache" ;;
        openclawd-dead)
            # a socket file nobody listens on (the daemon was killed)
            /usr/bin/python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' \
                "$w/oc-run/openclawd.sock"
            ;;
        tally-unusable)
            chown nobody "$w/tally"
            chmod 0777 "$w/tally"
            ;;
        tally-readonly)
            mount --bind "$w/tally" "$w/tally" && mount -o remount,bind,ro "$w/tally"
            ;;
        disk-full)
            # the tally's file system full (a tiny tmpfs, filled)
            mount -t tmpfs -o size=64k,mode=0700 oc-full "$w/tally" &&
                { head -c 1M /dev/zero >"$w/tally/.fill" 2>/dev/null || true; }
            ;;
        esac
    }
    baseline
    if [ "$(getent passwd agent-alpha | cut -d: -f3)" = "$ALPHA_UID" ] && ! grep -q '^agent-alpha:' /etc/passwd; then
        ns_result ok "agent-alpha resolves through libnss_openclaw only (uid $ALPHA_UID), not in /etc/passwd"
    else
        ns_result fail "agent-alpha resolves through libnss_openclaw only" "$(getent passwd agent-alpha)"
    fi

    # --- sshd (reads the PAM files at each connection)
    ssh-keygen -q -t ed25519 -N '' -f "$w/hostkey" || fail_setup "ssh-keygen"
    port=22031
    cat >"$w/sshd_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $w/hostkey
PidFile $w/sshd.pid
UsePAM yes
KbdInteractiveAuthentication yes
PasswordAuthentication yes
PubkeyAuthentication no
PermitRootLogin yes
StrictModes no
PrintMotd no
MaxAuthTries 3
LogLevel VERBOSE
EOF
    /usr/sbin/sshd -D -e -f "$w/sshd_config" 2>"$w/sshd.log" &
    sshd_pid=$!
    for _ in $(seq 1 50); do
        (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
        sleep 0.1
    done

    ns_token_lines "$w/token" >"$w/token.lines"
    chmod 0644 "$w/token" "$w/token.lines"
    printf '%s\n' "$PW_ROOT" >"$w/pw.root"
    printf '%s\n' "$PW_ALICE" >"$w/pw.alice"
    tr -d '\n' <"$w/token" >"$w/pw.agent-alpha"
    echo >>"$w/pw.agent-alpha"
    printf '%s\n%s\n' "$PW_NEW" "$PW_NEW" >"$w/pw.new"
    chmod 0644 "$w"/pw.*
    printf '#!/bin/sh\n# a password prompt gets the password; anything else is declined\ncase $1 in *assword*) head -n 1 "$OC_PW_FILE" ;; *) exit 1 ;; esac\n' >"$w/pw-askpass"
    chmod 0755 "$w/pw-askpass"
    cp "$w/token" "$w/askpass-token"
    chmod 0600 "$w/askpass-token"

    # run SERVICE USER: prints y (got in) or n; stderr of the program in $w/run.err
    run() {
        local svc=$1 u=$2 uid out rc secret=$w/pw.$2
        uid=$(id -u "$u" 2>/dev/null)
        case $svc in
        login)
            timeout 60 pamtester -I tty=tty1 login "$u" authenticate acct_mgmt <"$secret" >/dev/null 2>"$w/run.err"
            rc=$?
            ;;
        su)
            out=$(timeout 60 setpriv --reuid=nobody --regid=nogroup --clear-groups \
                su "$u" -c 'id -u' <"$secret" 2>"$w/run.err")
            rc=$?
            [ "$rc" -eq 0 ] && [ "$out" != "$uid" ] && rc=99
            ;;
        sudo)
            if [ "$u" = root ]; then
                out=$(timeout 60 sudo -S -k -p '' id -u </dev/null 2>"$w/run.err")
            elif [ "$u" = agent-alpha ]; then
                out=$(timeout 60 setpriv --reuid="$ALPHA_UID" --regid="$ALPHA_UID" --clear-groups \
                    sudo -S -k -p '' id -u <"$w/token.lines" 2>"$w/run.err")
            else
                out=$(timeout 60 setpriv --reuid=4242 --regid=4242 --clear-groups \
                    sudo -S -k -p '' id -u <"$secret" 2>"$w/run.err")
            fi
            rc=$?
            [ "$rc" -eq 0 ] && [ "$out" != 0 ] && rc=99
            ;;
        sshd)
            local o=(-F /dev/null -p "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
                -o LogLevel=ERROR -o NumberOfPasswordPrompts=1 -o ConnectTimeout=20)
            if [ "$u" = agent-alpha ]; then
                # the client's own openclaw.conf (the login audiences
                # openclaw-askpass answers for): the good one, whatever
                # the server's fault
                out=$(OPENCLAW_TOKEN_FILE=$w/askpass-token OPENCLAW_CONFIG=$w/openclaw.conf.good \
                    SSH_ASKPASS=$NS_ASKPASS SSH_ASKPASS_REQUIRE=force \
                    DISPLAY=none timeout 60 setsid -w ssh "${o[@]}" \
                    -o PreferredAuthentications=keyboard-interactive -l "$u" 127.0.0.1 'id -u' \
                    </dev/null 2>"$w/run.err")
            else
                out=$(OC_PW_FILE=$secret SSH_ASKPASS=$w/pw-askpass SSH_ASKPASS_REQUIRE=force \
                    DISPLAY=none timeout 60 setsid -w ssh "${o[@]}" \
                    -o PreferredAuthentications=keyboard-interactive,password -l "$u" 127.0.0.1 'id -u' \
                    </dev/null 2>"$w/run.err")
            fi
            rc=$?
            [ "$rc" -eq 0 ] && [ "$out" != "$uid" ] && rc=99
            ;;
        cron)
            timeout 60 pamtester cron "$u" acct_mgmt </dev/null >/dev/null 2>"$w/run.err"
            rc=$?
            ;;
        passwd)
            timeout 60 pamtester passwd "$u" chauthtok <"$w/pw.new" >/dev/null 2>"$w/run.err"
            rc=$?
            cat "$w/shadow.good" >/etc/shadow # the next runs use the old passwords
            ;;
        esac
        [ "$rc" -eq 0 ] && echo y || echo n
    }
    use_stack() { # on|off
        umount /etc/pam.d 2>/dev/null
        mount --bind "$w/pamd-$1" /etc/pam.d
    }
    log_since() { # LINE: syslog records and sshd's log after line LINE, the run's stderr
        tail -n +"$(($1 + 1))" "$w/syslog.log" 2>/dev/null
        cat "$w/run.err" 2>/dev/null
    }

    # The syslog listener writes a record a moment after the program sent
    # it: look again for up to 5 s before calling a refusal unexplained.
    reason_logged() { # MARK SSHD_MARK REGEX
        local i
        for i in $(seq 1 25); do
            { log_since "$1"; tail -n +"$(($2 + 1))" "$w/sshd.log"; } | grep -Eq -- "$3" && return 0
            sleep 0.2
        done
        return 1
    }

    humans=0
    humans_in=0
    humans_diff=0
    agent_bad=0
    : >"$w/rows"
    : >"$w/diffs"
    for f in $FAULTS; do
        apply_fault "$f"
        row="| $f |"
        fmark=$(wc -l <"$w/syslog.log" 2>/dev/null || echo 0)
        use_stack on
        for s in $SERVICES; do
            for u in root alice agent-alpha; do
                mark=$(wc -l <"$w/syslog.log" 2>/dev/null || echo 0)
                smark=$(wc -l <"$w/sshd.log")
                r=$(run "$s" "$u")
                eval "on_${s}_${u//-/_}=$r"
                if [ "$u" = agent-alpha ]; then
                    exp=$(agent_expect "$f" "$s")
                    cell=$r
                    if [ "$r" != "$exp" ]; then
                        agent_bad=$((agent_bad + 1))
                        cell="$r (expected $exp)"
                        printf '%s %s agent-alpha: %s, expected %s\n%s\n' "$f" "$s" "$r" "$exp" \
                            "$(cat "$w/run.err"; tail -n +"$((smark + 1))" "$w/sshd.log" | tail -n 5)" >>"$w/diffs"
                    elif [ "$r" = n ] && $syslog_ok; then
                        if ! reason_logged "$mark" "$smark" "$(agent_reason "$f" "$s")"; then
                            agent_bad=$((agent_bad + 1))
                            cell="n (no logged reason)"
                            printf '%s %s agent-alpha: refused without the expected log line /%s/\n%s\n' \
                                "$f" "$s" "$(agent_reason "$f" "$s")" "$(log_since "$mark" | tail -n 8)" >>"$w/diffs"
                        fi
                    fi
                    eval "agent_${s}=\$cell"
                fi
            done
        done
        use_stack off
        for s in $SERVICES; do
            for u in root alice; do
                r=$(run "$s" "$u")
                eval "on=\$on_${s}_${u}"
                humans=$((humans + 1))
                [ "$r" = y ] && humans_in=$((humans_in + 1))
                if [ "$on" != "$r" ]; then
                    humans_diff=$((humans_diff + 1))
                    printf '%s %s %s: profile on %s, off %s\n' "$f" "$s" "$u" "$on" "$r" >>"$w/diffs"
                fi
                eval "off_${s}_${u}=$r"
            done
        done
        for s in $SERVICES; do
            eval "row=\"\$row \$on_${s}_root/\$off_${s}_root, \$on_${s}_alice/\$off_${s}_alice, \$agent_${s} |\""
        done
        printf '%s\n' "$row" >>"$w/rows"
        # an unusable config is logged with what to run, whoever logs in
        case $f in
        config-typo | config-owner | config-mode)
            if $syslog_ok && ! tail -n +"$((fmark + 1))" "$w/syslog.log" |
                grep -q 'cannot use the configuration: .*run openclawctl check-config'; then
                agent_bad=$((agent_bad + 1))
                printf '%s: no log line naming openclawctl check-config\n' "$f" >>"$w/diffs"
            fi
            ;;
        esac
    done
    use_stack on

    {
        echo "## fault matrix"
        echo
        echo "Each cell: root on/off, alice on/off, agent-alpha (y: got in, n: refused;"
        echo "on/off: the pam-auth-update profile enabled/disabled)."
        echo
        printf '| fault |'
        for s in $SERVICES; do printf ' %s |' "$s"; done
        echo
        printf '|---|'
        for s in $SERVICES; do printf -- '---|'; done
        echo
        cat "$w/rows"
        echo
        echo "humans locked out by an openclaw fault: $humans_diff of $humans"
        echo "agent results not as expected or without a logged reason: $agent_bad of $(($(echo $FAULTS | wc -w) * 6))"
    } >"$w/matrix.md"
    if [ "$humans_diff" -eq 0 ]; then
        ns_result ok "humans (root, alice): all $humans results with the profile equal to the profile disabled, under every fault"
    else
        ns_result fail "humans (root, alice): results with the profile equal to the profile disabled" "$(cat "$w/diffs")"
    fi
    if [ "$agent_bad" -eq 0 ]; then
        ns_result ok "agent-alpha: refused with a logged reason under every fault that concerns it, logged in otherwise"
    else
        ns_result fail "agent-alpha: refused with a logged reason, logged in where the fault does not concern it" "$(cat "$w/diffs")"
    fi
    if ! $syslog_ok; then
        ns_result ok "the agent's refusals are logged # SKIP no private /dev/log here"
    fi
    # the human results are not all refusals (the comparison proves something)
    if [ "$humans_in" -ge $(($(echo $FAULTS | wc -w) * 10)) ]; then
        ns_result ok "the humans get in: $humans_in of $humans results are y (the comparison is not of refusals)"
    else
        ns_result fail "the humans get in (at least 10 of 12 per fault)" "$humans_in of $humans; $(cat "$w/rows")"
    fi
    exit 0
fi

# ---------------- on the host ----------------
. "$top_srcdir/tests/integration/pam-lib.sh"
mod=$(pam_module)
nssmod="$top_builddir/nss_openclaw/.libs/libnss_openclaw.so.2"
ctl="$top_builddir/helper/ctl/openclawctl"
[ -f "$mod" ] && [ -f "$nssmod" ] || tap_skip_all "pam_openclaw.so or libnss_openclaw.so.2 not built"
[ -n "$(pam_sanitizer_preload)" ] && tap_skip_all "sanitizer build: system programs cannot load an ASan-instrumented module"
[ "$(id -u)" -eq 0 ] || tap_skip_all "needs root (private mount namespace)"
for t in unshare su sudo setpriv setsid curl pamtester pam-auth-update chpasswd ssh /usr/sbin/sshd; do
    command -v "$t" >/dev/null || tap_skip_all "$t missing (scripts/install-deps.sh)"
done
[ -f /etc/pam.d/common-auth ] || tap_skip_all "no Debian common-* PAM files on this machine"
[ -d /var/lib/pam ] && [ -d /var/cache/debconf ] && [ -d /usr/share/pam-configs ] ||
    tap_skip_all "no /var/lib/pam, /var/cache/debconf or /usr/share/pam-configs (libpam-runtime)"
unshare --mount --propagation private --net true 2>/dev/null || tap_skip_all "unshare --mount --net not permitted here"
grep -qw overlay /proc/filesystems || tap_skip_all "no overlay filesystem"
ns_pam_dir >/dev/null || tap_skip_all "cannot find the PAM module directory"
getent passwd nobody >/dev/null && getent group nogroup >/dev/null || tap_skip_all "no nobody/nogroup"
conf=$(strings -a "$mod" | grep -m1 '^/.*/openclaw/openclaw\.conf$')
[ "$conf" = "$(strings -a "$nssmod" | grep -m1 '^/.*/openclaw/openclaw\.conf$')" ] ||
    tap_skip_all "cannot find the config path compiled into the modules"

PAM_WORK=$(mktemp -d /tmp/oc-pam-matrix.XXXXXX)
chmod 0755 "$PAM_WORK"
mkdir -p "$PAM_WORK/ovl"
export PAM_WORK
trap 'tenant_stop; rm -rf "$PAM_WORK"' EXIT
fingerprint() {
    {
        ns_host_fingerprint
        ls -la --time-style=full-iso "$(dirname "$conf")" /var/cache/debconf /usr/share/pam-configs \
            /var/lib/pam /etc/sudoers.d "$(dirname "$(ns_pam_dir)")"/libnss_openclaw* 2>&1
        sha256sum /etc/shadow /etc/nsswitch.conf /var/cache/debconf/*.dat /var/lib/pam/* 2>/dev/null
    } | sha256sum | cut -d' ' -f1
}
before=$(fingerprint)
tenant_start "$PAM_WORK/tenant" || tap_setup_fail "the local tenant did not start"
tenant_get "/$TENANT_ID/discovery/v2.0/keys" >"$PAM_WORK/keys.json.good"
mkdir -p "$PAM_WORK/jwks"
cp "$PAM_WORK/keys.json.good" "$PAM_WORK/jwks/keys.json"
tenant_ctl POST assignments "{\"principalAppId\": \"$ALPHA_APP\", \"resourceAppId\": \"6c2f8a41-3d5e-4b7a-8c9d-0e1f2a3b4c5d\", \"appRole\": \"Host.Sudo\"}" >/dev/null
tenant_token "$ALPHA_APP" "$ALPHA_SECRET" "$RESOURCE_URI/.default" >"$PAM_WORK/token"
case $(token_claim "$PAM_WORK/token" roles) in
*Host.Login*Host.Sudo* | *Host.Sudo*Host.Login*) ;;
*) tap_setup_fail "the tenant did not put Host.Login and Host.Sudo in the token" ;;
esac
pam_write_config "$PAM_WORK/uid.conf"
ALPHA_UID=$("$ctl" verify-token --config "$PAM_WORK/uid.conf" --json --user agent-alpha <"$PAM_WORK/token" | json_get agent.uid)
[ -n "$ALPHA_UID" ] || tap_setup_fail "openclawctl verify-token gave no uid"

NS_RESULTS=$PAM_WORK/results
export NS_RESULTS NS_WORK=$PAM_WORK NS_MODULE=$mod NS_NSS_MODULE=$nssmod NS_CTL=$ctl NS_CONF=$conf \
    NS_ASKPASS=$top_srcdir/helper/client/openclaw-askpass ALPHA_UID ALPHA_APP ALPHA_OID TENANT_ID RESOURCE_URI \
    top_srcdir top_builddir
timeout 900 unshare --mount --propagation private --net bash "$0" --inner
ns_report
ns_expect 5
if [ -f "$PAM_WORK/matrix.md" ]; then
    sed 's/^/# /' "$PAM_WORK/stack.txt" "$PAM_WORK/matrix.md"
fi

# Negative control: the same measurement must turn red when the property
# breaks. A profile that does not let the module's "not an agent" answer
# (PAM_IGNORE) through, ignore=ignore dropped, and with a Password block
# like the one the profile had before, run under one fault, must show the
# humans locked out of every service. (The old Password block alone does
# not lock passwd on every host: where pam_pwquality comes first it sets
# the new password for pam_unix's use_authtok.)
ctl_w=$PAM_WORK/control
mkdir -p "$ctl_w/ovl" "$ctl_w/jwks"
chmod 0755 "$ctl_w"
cp "$PAM_WORK/keys.json.good" "$PAM_WORK/token" "$ctl_w/"
{
    sed 's/ ignore=ignore//' "$top_srcdir/data/pam-configs/openclaw"
    printf 'Password-Type: Primary\nPassword:\n\t[success=end default=die] pam_openclaw.so\n'
    printf 'Password-Initial:\n\t[success=end default=die] pam_openclaw.so\n'
} >"$ctl_w/profile-broken"
NS_WORK=$ctl_w NS_RESULTS=$ctl_w/results OC_MATRIX_PROFILE=$ctl_w/profile-broken \
    OC_MATRIX_FAULTS=config-typo timeout 300 unshare --mount --propagation private --net bash "$0" --inner
ctl_fig=$(sed -n 's/^humans locked out by an openclaw fault: \([0-9]* of [0-9]*\)$/\1/p' "$ctl_w/matrix.md" 2>/dev/null)
ctl_missing=""
for s in $SERVICES; do
    grep -q "^config-typo $s \(root\|alice\): profile on n, off y$" "$ctl_w/diffs" 2>/dev/null ||
        ctl_missing="$ctl_missing $s"
done
if [ -n "$ctl_fig" ] && [ "${ctl_fig%% *}" -gt 0 ] && [ -z "$ctl_missing" ]; then
    echo "# negative control: humans locked out $ctl_fig with a profile that drops ignore=ignore"
    tap_ok "negative control: a profile that turns the module's 'not an agent' answer into die is caught (humans locked out: $ctl_fig, in every service)"
else
    tap_fail "negative control: a profile that turns 'not an agent' into die must show humans locked out in every service" \
        "figure: ${ctl_fig:-none}; not caught in:${ctl_missing:- -}; $(cat "$ctl_w/results" "$ctl_w/diffs" 2>/dev/null | head -n 20)"
fi
after=$(fingerprint)
if [ "$before" = "$after" ]; then
    tap_ok "host /etc, PAM dir, pam-configs, /var/lib/pam, debconf and config dir unchanged"
else
    tap_fail "host /etc, PAM dir, pam-configs, /var/lib/pam, debconf and config dir unchanged"
fi
tap_done
