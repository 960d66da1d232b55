#!/usr/bin/env bash
# A one-node SLURM cluster reached over SSH, all on this machine, for the `cluster` test tier
# (tests/cluster): munge, slurmctld and slurmd (Debian's slurm-wlm), and an sshd of its own that
# listens on 127.0.0.1 only and lets in root with a key made for the tier.
#
#   tests/cluster/install.sh install   install slurm-wlm, munge and openssh-server with apt (Debian/Ubuntu,
#                                as root), write /etc/slurm/slurm.conf for this machine; idempotent
#   tests/cluster/install.sh start     start munged, slurmctld, slurmd and the sshd; wait for an idle node
#   tests/cluster/install.sh stop      cancel the jobs, stop what `start` started
#   tests/cluster/install.sh status    say what runs; exit 1 unless all of it does
#   tests/cluster/install.sh env       print the connection (KEY=value lines) for the tests
#
# Environment: AIIDA_PACEMAKER_CLUSTER_DIR (state: keys, sshd config, logs; default
# /var/lib/aiida-pacemaker-cluster), AIIDA_PACEMAKER_CLUSTER_SSH_PORT (default 2222).
#
# Nothing here enables a system service or touches root's ~/.ssh: the sshd has its own config,
# host key and authorized_keys in the state folder. /etc/slurm/slurm.conf is written only when it
# is missing or was written by this script; a slurm.conf of a real cluster is left alone (and
# `install` fails).
set -euo pipefail

STATE=${AIIDA_PACEMAKER_CLUSTER_DIR:-/var/lib/aiida-pacemaker-cluster}
SSH_PORT=${AIIDA_PACEMAKER_CLUSTER_SSH_PORT:-2222}
SLURM_CONF=/etc/slurm/slurm.conf
MARKER='# written by aiida-pacemaker tests/cluster/install.sh'

say() { printf 'cluster.sh: %s\n' "$*" >&2; }
# shellcheck source=tests/apt.sh
source "$(dirname "${BASH_SOURCE[0]}")/../apt.sh"
die() {
    say "$*"
    exit 1
}

# ------------------------------------------------------------------------------------------ install
missing_packages() {
    command -v slurmctld >/dev/null || echo slurm-wlm
    command -v slurmd >/dev/null || echo slurm-wlm
    command -v sbatch >/dev/null || echo slurm-wlm
    command -v munged >/dev/null || [ -x /usr/sbin/munged ] || echo munge
    [ -x /usr/sbin/sshd ] || echo openssh-server
}

install_packages() {
    local missing
    missing=$(missing_packages | sort -u | xargs)
    if [ -z "$missing" ]; then
        return 0
    fi
    # shellcheck disable=SC2086
    apt_install $missing || exit 1
    missing=$(missing_packages | sort -u | xargs)
    [ -z "$missing" ] || die "still missing after apt-get install: $missing"
}

munge_key() {
    local key=/etc/munge/munge.key
    if [ ! -s "$key" ]; then
        say "creating $key"
        mkdir -p /etc/munge
        if command -v mungekey >/dev/null; then
            mungekey --create --keyfile="$key" --force
        else
            dd if=/dev/urandom bs=1 count=1024 of="$key" status=none
        fi
    fi
    chown munge:munge /etc/munge "$key" 2>/dev/null || true
    chmod 0700 /etc/munge
    chmod 0400 "$key"
}

# the NodeName line of `slurmd -C` (CPUs, sockets, cores, threads, RealMemory of this machine)
node_line() {
    local line
    line=$(slurmd -C 2>/dev/null | grep '^NodeName=' | head -1) || true
    [ -n "$line" ] || die 'slurmd -C printed no NodeName line'
    # SLURM checks the memory it finds against RealMemory: leave a little room
    local memory
    memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$line")
    if [ -n "$memory" ] && [ "$memory" -gt 1024 ]; then
        line=${line/RealMemory=$memory/RealMemory=$((memory - 512))}
    fi
    printf '%s NodeAddr=127.0.0.1 State=UNKNOWN\n' "$line"
}

node_name() { node_line | sed -n 's/^NodeName=\([^ ]*\).*/\1/p'; }

write_slurm_conf() {
    if [ -e "$SLURM_CONF" ] && ! grep -qF "$MARKER" "$SLURM_CONF"; then
        die "$SLURM_CONF exists and was not written by this script: not touching it (a real cluster?)"
    fi
    local host
    host=$(hostname -s)
    mkdir -p /etc/slurm
    cat >"$SLURM_CONF.new" <<EOF
$MARKER: a one-node cluster on this machine for
# the cluster test tier of aiida-pacemaker. Rewritten by \`cluster.sh install\`.
ClusterName=aiidapace
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
SlurmctldTimeout=60
SlurmdTimeout=60
InactiveLimit=0
MinJobAge=300
KillWait=10
Waittime=0
SchedulerParameters=batch_sched_delay=0
# the daemons bind to the addresses of this file (127.0.0.1), not to all interfaces
CommunicationParameters=NoInAddrAny
$(node_line)
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$SLURM_CONF.new" "$SLURM_CONF"
    chmod 644 "$SLURM_CONF"
}

ssh_keys() {
    mkdir -p "$STATE/ssh"
    chmod 700 "$STATE" "$STATE/ssh"
    [ -s "$STATE/ssh/ssh_host_ed25519_key" ] ||
        ssh-keygen -q -t ed25519 -N '' -C 'aiida-pacemaker cluster host' -f "$STATE/ssh/ssh_host_ed25519_key"
    [ -s "$STATE/ssh/id_ed25519" ] ||
        ssh-keygen -q -t ed25519 -N '' -C 'aiida-pacemaker cluster tests' -f "$STATE/ssh/id_ed25519"
    # the key lets in connections from this machine only
    printf 'from="127.0.0.1,::1" %s\n' "$(cat "$STATE/ssh/id_ed25519.pub")" >"$STATE/ssh/authorized_keys"
    chmod 600 "$STATE/ssh/authorized_keys"
}

install() {
    install_packages
    [ "$(id -u)" = 0 ] || die 'configuring SLURM and munge needs root'
    munge_key
    write_slurm_conf
    ssh_keys
    mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    say "installed: $(sbatch --version), munge, $(/usr/sbin/sshd -V 2>&1 | head -1 || true)"
}

# ------------------------------------------------------------------------------------------ daemons
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }

sshd_pidfile() { echo "$STATE/ssh/sshd.pid"; }

write_sshd_config() {
    cat >"$STATE/ssh/sshd_config" <<EOF
# sshd of the aiida-pacemaker cluster test tier: 127.0.0.1 only, root with the tier's key only
Port $SSH_PORT
ListenAddress 127.0.0.1
HostKey $STATE/ssh/ssh_host_ed25519_key
PidFile $(sshd_pidfile)
AuthorizedKeysFile $STATE/ssh/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
AllowTcpForwarding no
PrintMotd no
MaxStartups 50:30:100
MaxSessions 50
Subsystem sftp internal-sftp
EOF
}

started() { echo "$1" >>"$STATE/started"; }

start() {
    [ "$(id -u)" = 0 ] || die 'starting the cluster needs root'
    if ! grep -qsF "$MARKER" "$SLURM_CONF"; then
        die "no $SLURM_CONF written by this script: run $0 install"
    fi
    [ -s "$STATE/ssh/id_ed25519" ] || die "no keys in $STATE/ssh: run $0 install"
    touch "$STATE/started"

    # munge
    if ! munge_ok; then
        mkdir -p /run/munge /var/log/munge /var/lib/munge
        chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
        chmod 0755 /run/munge
        if id munge >/dev/null 2>&1; then
            runuser -u munge -- /usr/sbin/munged || die 'munged did not start (see /var/log/munge/munged.log)'
        else
            /usr/sbin/munged --force || die 'munged did not start (see /var/log/munge/munged.log)'
        fi
        started munged
        local _
        for _ in $(seq 50); do
            munge_ok && break
            sleep 0.2
        done
        munge_ok || die 'munge does not answer (see /var/log/munge/munged.log)'
    fi

    mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    if ! pid_alive /run/slurmctld.pid; then
        # -c: a fresh controller state (no jobs or node states of an earlier run)
        slurmctld -c || die "slurmctld did not start: $(tail -20 /var/log/slurm/slurmctld.log 2>/dev/null)"
        started slurmctld
    fi
    if ! pid_alive /run/slurmd.pid; then
        slurmd || die "slurmd did not start: $(tail -20 /var/log/slurm/slurmd.log 2>/dev/null)"
        started slurmd
    fi

    if ! pid_alive "$(sshd_pidfile)"; then
        if (exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null; then
            die "port $SSH_PORT of 127.0.0.1 is taken: set AIIDA_PACEMAKER_CLUSTER_SSH_PORT to a free port"
        fi
        write_sshd_config
        : >"$STATE/ssh/sshd.log"
        mkdir -p /run/sshd
        chmod 755 /run/sshd
        /usr/sbin/sshd -t -f "$STATE/ssh/sshd_config" || die 'the sshd configuration is refused'
        /usr/sbin/sshd -f "$STATE/ssh/sshd_config" -E "$STATE/ssh/sshd.log" ||
            die "sshd did not start on 127.0.0.1:$SSH_PORT: $(tail -5 "$STATE/ssh/sshd.log" 2>/dev/null)"
        started sshd
    fi

    # the node: registered with the controller and idle
    local node state _
    node=$(node_name)
    for _ in $(seq 120); do
        state=$(sinfo -h -n "$node" -o '%T' 2>/dev/null | head -1) || true
        case "$state" in
            idle | mixed | allocated) break ;;
            down* | drain* | fail*)
                scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true
                ;;
        esac
        sleep 0.5
    done
    [[ "$state" =~ ^(idle|mixed|allocated) ]] ||
        die "node $node is not idle but '${state:-unknown}': $(scontrol show node "$node" 2>&1 | grep -i reason)
$(tail -10 /var/log/slurm/slurmctld.log 2>/dev/null)
$(tail -10 /var/log/slurm/slurmd.log 2>/dev/null)"

    # sshd answers, with the key, and finds sbatch
    ssh_command true || die "ssh root@127.0.0.1 -p $SSH_PORT does not let in the tier's key: $(tail -5 "$STATE/ssh/sshd.log")"
    say "running: SLURM node $node ($state), sshd on 127.0.0.1:$SSH_PORT"
}

ssh_command() {
    ssh -q -p "$SSH_PORT" -i "$STATE/ssh/id_ed25519" -o IdentitiesOnly=yes -o BatchMode=yes \
        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 \
        root@127.0.0.1 "$@"
}

stop_pidfile() {
    local pidfile=$1 name=$2 pid _
    pid_alive "$pidfile" || return 0
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    say "$name ($pid) did not stop: killing it"
    kill -9 "$pid" 2>/dev/null || true
}

was_started() { grep -qx "$1" "$STATE/started"; }

stop() {
    [ -f "$STATE/started" ] || return 0
    if was_started slurmctld && command -v scancel >/dev/null; then
        scancel --quiet --user root 2>/dev/null || true
    fi
    if was_started sshd; then stop_pidfile "$(sshd_pidfile)" sshd; fi
    if was_started slurmd; then stop_pidfile /run/slurmd.pid slurmd; fi
    if was_started slurmctld; then stop_pidfile /run/slurmctld.pid slurmctld; fi
    if was_started munged; then stop_pidfile /run/munge/munged.pid munged; fi
    rm -f "$STATE/started"
    say 'stopped'
}

check_daemon() {
    local name=$1
    shift
    if "$@"; then
        say "$name: running"
    else
        say "$name: not running"
        return 1
    fi
}

status() {
    local ok=0
    check_daemon munge munge_ok || ok=1
    check_daemon slurmctld pid_alive /run/slurmctld.pid || ok=1
    check_daemon slurmd pid_alive /run/slurmd.pid || ok=1
    check_daemon "sshd (127.0.0.1:$SSH_PORT)" pid_alive "$(sshd_pidfile)" || ok=1
    return "$ok"
}

print_env() {
    printf 'CLUSTER_SSH_HOST=127.0.0.1\nCLUSTER_SSH_PORT=%s\nCLUSTER_SSH_USER=root\n' "$SSH_PORT"
    printf 'CLUSTER_SSH_KEY=%s\nCLUSTER_SLURM_LOG=/var/log/slurm/slurmctld.log\n' "$STATE/ssh/id_ed25519"
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    env) print_env ;;
    *)
        echo "usage: $0 install|start|stop|status|env" >&2
        exit 2
        ;;
esac
