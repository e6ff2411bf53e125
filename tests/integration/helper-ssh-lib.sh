# tests/integration/helper-ssh-lib.sh: what the ssh-agent suites share
# (sourced after tap.sh and helper-lib.sh, inside a private mount and
# network namespace; $work is the suite's directory, $DSOCK openclawd's
# socket, $SSH_PORT the port sshd listens on):
#   stop_pid PID                      SIGTERM, then SIGKILL after 5 s
#   passwd_with NAME:UID...           a copy of /etc/passwd with these accounts
#                                     (home $work/home/NAME, theirs) bind-mounted
#                                     over /etc/passwd, in this namespace only
#   sshd_start AUTHKEYS_DIR [PORT NAME]  sshd on 127.0.0.1:PORT (default
#                                     $SSH_PORT), host key $work/hostkey (with
#                                     NAME: $work/NAME-hostkey; ed25519, made
#                                     here), keys from AUTHKEYS_DIR/%u; log
#                                     $work/NAME.log (sshd.log); sets sshd_pid
#                                     and adds it to sshd_pids
#   start_agent NAME UID [OPTION...]  openclaw-token --ssh-agent --foreground as
#                                     UID (socket in its home); sets SOCK_<NAME>
#                                     and PID_<NAME>; its stderr in
#                                     $work/agent-NAME.err
#   as_agent UID SOCK CMD...          CMD as UID with that agent, no key on disk
#   ssh_login UID SOCK USER [OPT...]  ssh USER@127.0.0.1 id -u through the agent
#                                     (port $SSH_PORT, or the -p in OPT; the
#                                     remote command $SSH_CMD if set)
# agent_pids and sshd_pids are for the suite's cleanup to stop.
agent_pids=""
sshd_pid=""
sshd_pids=""

stop_pid() {
    [ -n "$1" ] || return 0
    kill "$1" 2>/dev/null
    for _ in $(seq 1 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null
}

passwd_with() {
    local u n id
    cp /etc/passwd "$work/passwd"
    for u in "$@"; do
        n=${u%%:*}
        id=${u##*:}
        mkdir -p "$work/home/$n"
        chown "$id:$id" "$work/home/$n"
        printf '%s:x:%s:%s:openclaw test:%s:/bin/sh\n' "$n" "$id" "$id" "$work/home/$n" >>"$work/passwd"
    done
    chmod 644 "$work/passwd"
    mount --bind "$work/passwd" /etc/passwd
}

sshd_start() {
    local port=${2:-$SSH_PORT} name=${3:-sshd} hk=$work/hostkey
    [ "$name" = sshd ] || hk=$work/$name-hostkey
    ssh-keygen -q -t ed25519 -N '' -f "$hk" || return 1
    mkdir -p /run/sshd
    cat >"$work/${name}_config" <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $hk
PidFile $work/$name.pid
UsePAM no
PubkeyAuthentication yes
AuthorizedKeysFile $1/%u
PasswordAuthentication no
KbdInteractiveAuthentication no
HostbasedAuthentication no
PermitRootLogin no
StrictModes no
LogLevel VERBOSE
EOF
    "${SSHD:-/usr/sbin/sshd}" -D -e -f "$work/${name}_config" 2>"$work/$name.log" &
    sshd_pid=$!
    sshd_pids="$sshd_pids $sshd_pid"
    wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null
}

start_agent() {
    local name=$1 uid=$2 pid s home
    shift 2
    home=$(getent passwd "$uid" | cut -d: -f6)
    # setpriv and env exec: $! is the agent itself
    setpriv --reuid="$uid" --regid="$uid" --clear-groups env HOME="$home" \
        "$OCT" --ssh-agent --foreground --socket "$DSOCK" --socket-dir "$home" "$@" \
        >"$work/agent-$name.out" 2>"$work/agent-$name.err" &
    pid=$!
    agent_pids="$agent_pids $pid"
    wait_for 5 grep -q '^SSH_AUTH_SOCK=' "$work/agent-$name.out" || return 1
    s=$(sed -n 's/^SSH_AUTH_SOCK=\([^;]*\);.*/\1/p' "$work/agent-$name.out")
    eval "SOCK_$name=\$s PID_$name=\$pid"
    [ -S "$s" ]
}

as_agent() {
    local uid=$1 sock=$2 home
    shift 2
    home=$(getent passwd "$uid" | cut -d: -f6)
    as_uid "$uid" env -i PATH=/usr/bin:/bin HOME="$home" SSH_AUTH_SOCK="$sock" timeout 60 "$@"
}

ssh_login() {
    local uid=$1 sock=$2 user=$3
    shift 3
    as_agent "$uid" "$sock" ssh -F /dev/null -o IdentitiesOnly=no -o BatchMode=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=20 \
        -o LogLevel=ERROR -p "$SSH_PORT" "$@" "$user@127.0.0.1" "${SSH_CMD:-id -u}"
}
