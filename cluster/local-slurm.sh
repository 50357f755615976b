#!/usr/bin/env bash
# Start / stop a throw-away one-node SLURM cluster on this machine (for testing
# the `snakemake --profile profiles/slurm` path). Debian/Ubuntu packages only:
# slurm-wlm + munge. No slurmdbd (so no sacct/sacctmgr): finished jobs stay
# visible to `squeue --states=all` for MinJobAge seconds, which the snakemake
# SLURM executor plugin uses for its status checks (slurm-status-command: squeue).
#
# Usage:
#   cluster/local-slurm.sh start [--install]   # start munged, slurmctld, slurmd; wait for idle node
#   cluster/local-slurm.sh stop                # cancel jobs, stop the daemons we started (idempotent)
#   cluster/local-slurm.sh status              # daemons + sinfo/squeue; exit 0 iff the node is up
#   cluster/local-slurm.sh env                 # print `export SLURM_CONF=...` (eval it in your shell)
#
# Environment (all optional):
#   SIGNGEOM_SLURM_STATE   state dir (config, logs, pid files, spool)   [/tmp/signgeom-slurm]
#   SIGNGEOM_SLURM_PARTITION  partition name                              [debug]
#   SIGNGEOM_SLURM_CTLD_PORT / SIGNGEOM_SLURM_SLURMD_PORT                [6817 / 6818]
#   SIGNGEOM_SLURM_MIN_JOB_AGE  seconds finished jobs stay in squeue      [3600]
#   SIGNGEOM_SLURM_TIMEOUT  seconds to wait for the node to become idle  [60]
#   SIGNGEOM_SLURM_GPUS     placeholder GPUs of the node (GRES gpu)        [2]
#   SIGNGEOM_SLURM_SHARDS_PER_GPU  GRES shards per GPU: jobs that may share
#                            one GPU, each with --gres=shard:1            [2]
#   SIGNGEOM_SLURM_LINK_ETC  1 = also symlink /etc/slurm/slurm.conf to our config
#                            when that file does not exist yet, so plain `sbatch`
#                            works without SLURM_CONF                     [1]
#
# All clients (sbatch, squeue, sinfo, scancel and snakemake) find the cluster
# through SLURM_CONF=$SIGNGEOM_SLURM_STATE/etc/slurm.conf (or the /etc symlink).
set -euo pipefail

STATE="${SIGNGEOM_SLURM_STATE:-/tmp/signgeom-slurm}"
PARTITION="${SIGNGEOM_SLURM_PARTITION:-debug}"
CTLD_PORT="${SIGNGEOM_SLURM_CTLD_PORT:-6817}"
SLURMD_PORT="${SIGNGEOM_SLURM_SLURMD_PORT:-6818}"
MIN_JOB_AGE="${SIGNGEOM_SLURM_MIN_JOB_AGE:-3600}"
TIMEOUT="${SIGNGEOM_SLURM_TIMEOUT:-60}"
GPUS="${SIGNGEOM_SLURM_GPUS:-2}"
SHARDS_PER_GPU="${SIGNGEOM_SLURM_SHARDS_PER_GPU:-2}"
LINK_ETC="${SIGNGEOM_SLURM_LINK_ETC:-1}"

CONF="$STATE/etc/slurm.conf"
GRES_CONF="$STATE/etc/gres.conf"
GRES_DIR="$STATE/gres"
MUNGE_DIR="$STATE/munge"
MUNGE_SOCKET="$MUNGE_DIR/munge.socket.2"
MUNGE_KEY="${SIGNGEOM_MUNGE_KEY:-/etc/munge/munge.key}"
LOGDIR="$STATE/log"
RUNDIR="$STATE/run"
ETC_LINK=/etc/slurm/slurm.conf

PACKAGES=(slurm-wlm munge)
BINARIES=(munged mungekey slurmctld slurmd sbatch squeue sinfo scontrol scancel)

die() { # die CODE MESSAGE...
    local code=$1
    shift
    echo "local-slurm: ERROR: $*" >&2
    exit "$code"
}
log() { echo "local-slurm: $*" >&2; }

usage() {
    sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'
}

need_root() {
    [[ $(id -u) -eq 0 ]] || die 2 "must run as root (it starts slurmctld/slurmd/munged and writes /etc/munge); current uid=$(id -u)"
}

missing_binaries() {
    local b missing=()
    for b in "${BINARIES[@]}"; do
        command -v "$b" >/dev/null 2>&1 || [[ -x /usr/sbin/$b ]] || missing+=("$b")
    done
    echo "${missing[*]}"
}

ensure_packages() { # ensure_packages INSTALL(0|1)
    local install=$1 missing
    export PATH="$PATH:/usr/sbin:/sbin"
    missing=$(missing_binaries)
    [[ -z $missing ]] && return 0
    if [[ $install -ne 1 ]]; then
        die 2 "SLURM/munge not installed (missing: $missing). Install with 'apt-get install slurm-wlm munge' or run '$0 start --install'."
    fi
    command -v apt-get >/dev/null 2>&1 || die 2 "missing: $missing, and apt-get is not available to install ${PACKAGES[*]}"
    log "installing ${PACKAGES[*]} with apt-get (missing: $missing) ..."
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >"/tmp/local-slurm-apt.$$.log" 2>&1; then
        log "apt-get install failed; trying apt-get update first"
        if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"; } \
            >>"/tmp/local-slurm-apt.$$.log" 2>&1; then
            tail -n 20 "/tmp/local-slurm-apt.$$.log" >&2
            die 2 "apt-get install ${PACKAGES[*]} failed (log: /tmp/local-slurm-apt.$$.log)"
        fi
    fi
    missing=$(missing_binaries)
    [[ -z $missing ]] || die 2 "still missing after installing ${PACKAGES[*]}: $missing"
    log "installed ${PACKAGES[*]}"
}

pid_alive() { # pid_alive PIDFILE
    local pid
    [[ -s $1 ]] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

node_name() { hostname -s 2>/dev/null || hostname; }

write_config() {
    local node cpus_line realmem
    node=$(node_name)
    # `slurmd -C` prints the real hardware of this machine, e.g.
    # NodeName=vm CPUs=2 Boards=1 SocketsPerBoard=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=24105
    cpus_line=$(slurmd -C 2>/dev/null | head -n 1 | sed -e 's/^NodeName=[^ ]* *//')
    if [[ -z $cpus_line || $cpus_line != *CPUs=* ]]; then
        realmem=$(awk '/MemTotal/ {printf "%d", $2/1024}' /proc/meminfo)
        cpus_line="CPUs=$(nproc) RealMemory=$realmem"
    fi
    [[ $GPUS =~ ^[1-9][0-9]*$ && $SHARDS_PER_GPU =~ ^[1-9][0-9]*$ ]] ||
        die 2 "SIGNGEOM_SLURM_GPUS ('$GPUS') and SIGNGEOM_SLURM_SHARDS_PER_GPU ('$SHARDS_PER_GPU') must be positive integers"
    gres="gpu:${GPUS},shard:$((GPUS * SHARDS_PER_GPU))"
    mkdir -p "$STATE/etc" "$LOGDIR" "$RUNDIR" "$STATE/ctld" "$STATE/slurmd"
    cat >"$CONF" <<EOF
# Generated by cluster/local-slurm.sh -- one-node test cluster, no accounting DB.
ClusterName=signgeom
SlurmctldHost=${node}(127.0.0.1)
SlurmctldPort=${CTLD_PORT}
SlurmdPort=${SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${MUNGE_SOCKET}
StateSaveLocation=${STATE}/ctld
SlurmdSpoolDir=${STATE}/slurmd
SlurmctldPidFile=${RUNDIR}/slurmctld.pid
SlurmdPidFile=${RUNDIR}/slurmd.pid
SlurmctldLogFile=${LOGDIR}/slurmctld.log
SlurmdLogFile=${LOGDIR}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# container friendly: no cgroups
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SwitchType=switch/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# jobs without --mem must not grab the whole node
DefMemPerCPU=1024
# finished jobs stay visible to 'squeue --states=all' (the plugin's status check)
MinJobAge=${MIN_JOB_AGE}
ReturnToService=2
SlurmdTimeout=300
InactiveLimit=0
KillWait=5
Waittime=0
# GPUs without a device: gres.conf names placeholder files, which is all SLURM needs to
# schedule --gpus=N / --gres=gpu:N and --gres=shard:N (a share of one GPU)
GresTypes=gpu,shard
NodeName=${node} NodeAddr=127.0.0.1 ${cpus_line} Gres=${gres} State=UNKNOWN
PartitionName=${PARTITION} Nodes=${node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    write_gres_config "$node"
    log "wrote $CONF and $GRES_CONF (node ${node}: ${cpus_line} Gres=${gres})"
    if [[ $LINK_ETC == 1 ]]; then
        if [[ ! -e $ETC_LINK && ! -L $ETC_LINK ]] || [[ -L $ETC_LINK && $(readlink "$ETC_LINK") == "$CONF" ]]; then
            mkdir -p /etc/slurm
            ln -sfn "$CONF" "$ETC_LINK"
        fi
    fi
}

write_gres_config() { # write_gres_config NODE: a placeholder file per GPU, its shards on it
    local node=$1 i
    mkdir -p "$GRES_DIR"
    {
        echo "# Generated by cluster/local-slurm.sh: placeholder GPUs (plain files, no device)."
        echo "AutoDetect=off"
        for ((i = 0; i < GPUS; i++)); do
            : >"$GRES_DIR/gpu$i"
            echo "NodeName=${node} Name=gpu File=$GRES_DIR/gpu$i"
            echo "NodeName=${node} Name=shard Count=${SHARDS_PER_GPU} File=$GRES_DIR/gpu$i"
        done
    } >"$GRES_CONF"
}

ensure_munge_key() {
    if [[ ! -s $MUNGE_KEY ]]; then
        log "creating munge key $MUNGE_KEY"
        mkdir -p "$(dirname "$MUNGE_KEY")"
        if ! mungekey --create --keyfile="$MUNGE_KEY" 2>/dev/null; then
            dd if=/dev/urandom of="$MUNGE_KEY" bs=1 count=1024 status=none
        fi
    fi
    if id munge >/dev/null 2>&1; then
        chown munge:munge "$(dirname "$MUNGE_KEY")" "$MUNGE_KEY"
        chmod 0700 "$(dirname "$MUNGE_KEY")"
    fi
    chmod 0400 "$MUNGE_KEY"
}

show_logs() {
    local f
    for f in "$LOGDIR"/munged.log "$LOGDIR"/munged.out "$LOGDIR"/slurmctld.log "$LOGDIR"/slurmctld.out \
        "$LOGDIR"/slurmd.log "$LOGDIR"/slurmd.out; do
        [[ -s $f ]] || continue
        echo "----- tail $f -----" >&2
        tail -n 25 "$f" >&2
    done
}

start_munged() {
    local pidfile="$RUNDIR/munged.pid" user_args=()
    if pid_alive "$pidfile"; then
        log "munged already running (pid $(cat "$pidfile"))"
        return 0
    fi
    ensure_munge_key
    mkdir -p "$MUNGE_DIR" "$STATE/munge-lib"
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    if id munge >/dev/null 2>&1; then
        chown munge:munge "$MUNGE_DIR" "$STATE/munge-lib"
        touch "$LOGDIR/munged.log" && chown munge:munge "$LOGDIR/munged.log"
        user_args=(runuser -u munge --)
    fi
    chmod 0755 "$MUNGE_DIR"
    chmod 0700 "$STATE/munge-lib"
    # munged insists on owning its pid file's directory contents; keep it in MUNGE_DIR
    "${user_args[@]}" munged --force --socket="$MUNGE_SOCKET" --key-file="$MUNGE_KEY" \
        --pid-file="$MUNGE_DIR/munged.pid" --log-file="$LOGDIR/munged.log" \
        --seed-file="$STATE/munge-lib/munged.seed" >"$LOGDIR/munged.out" 2>&1 ||
        {
            show_logs
            die 1 "munged failed to start"
        }
    local i
    for i in $(seq 1 50); do
        [[ -S $MUNGE_SOCKET && -s $MUNGE_DIR/munged.pid ]] && break
        sleep 0.1
    done
    [[ -s $MUNGE_DIR/munged.pid ]] || {
        show_logs
        die 1 "munged did not create its pid file"
    }
    cp "$MUNGE_DIR/munged.pid" "$pidfile"
    if ! munge --socket="$MUNGE_SOCKET" -n | unmunge --socket="$MUNGE_SOCKET" >/dev/null 2>&1; then
        show_logs
        die 1 "munge round trip failed on socket $MUNGE_SOCKET"
    fi
    log "munged running (pid $(cat "$pidfile"), socket $MUNGE_SOCKET)"
}

start_daemon() { # start_daemon NAME ARGS...
    local name=$1 pidfile="$RUNDIR/$1.pid"
    shift
    if pid_alive "$pidfile"; then
        log "$name already running (pid $(cat "$pidfile"))"
        return 0
    fi
    # -D: stay in the foreground (we background it ourselves and own the pid)
    setsid "$name" -D -f "$CONF" "$@" >"$LOGDIR/$name.out" 2>&1 </dev/null &
    echo $! >"$pidfile"
    sleep 0.5
    if ! pid_alive "$pidfile"; then
        show_logs
        die 1 "$name exited right after start"
    fi
    log "$name running (pid $(cat "$pidfile"))"
}

node_state() {
    sinfo -h -N -o '%T' 2>/dev/null | head -n 1
}

cmd_start() {
    local install=0 arg
    for arg in "$@"; do
        case $arg in
        --install) install=1 ;;
        *) die 2 "unknown option for start: $arg" ;;
        esac
    done
    need_root
    ensure_packages "$install"
    export SLURM_CONF="$CONF"
    local t0=$SECONDS
    if [[ -f $CONF ]] && pid_alive "$RUNDIR/slurmctld.pid" && pid_alive "$RUNDIR/slurmd.pid"; then
        log "cluster already running with $CONF"
    else
        write_config
        start_munged
        start_daemon slurmctld
        start_daemon slurmd
    fi
    local deadline=$((SECONDS + TIMEOUT)) state="" resumed=0
    while ((SECONDS < deadline)); do
        state=$(node_state || true)
        case $state in
        idle | mixed | allocated | completing) break ;;
        down* | drain* | fail*)
            # e.g. left over in the saved state: bring it back once
            if ((resumed == 0)); then
                scontrol update NodeName="$(node_name)" State=RESUME >/dev/null 2>&1 || true
                resumed=1
            fi
            ;;
        esac
        for d in slurmctld slurmd munged; do
            pid_alive "$RUNDIR/$d.pid" || {
                show_logs
                die 1 "$d died while waiting for the node (state '$state')"
            }
        done
        sleep 0.5
    done
    case $state in
    idle | mixed | allocated | completing) ;;
    *)
        sinfo -N -l >&2 || true
        scontrol show node >&2 || true
        show_logs
        die 1 "node did not become idle within ${TIMEOUT}s (state: '${state:-no answer from slurmctld}')"
        ;;
    esac
    log "cluster up in $((SECONDS - t0))s: partition '$PARTITION', node $(node_name) $state"
    echo "export SLURM_CONF=$CONF"
}

stop_pid() { # stop_pid NAME
    local name=$1 pidfile="$RUNDIR/$1.pid" pid i
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) ignored SIGTERM, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped $name (pid $pid)"
    fi
    rm -f "$pidfile"
}

cmd_stop() {
    need_root
    export SLURM_CONF="$CONF"
    if [[ -f $CONF ]] && pid_alive "$RUNDIR/slurmctld.pid"; then
        # cancel whatever is still queued/running so no slurmstepd outlives slurmd
        local i
        scancel --full --quiet --user=root 2>/dev/null || true
        for i in $(seq 1 20); do
            [[ -z $(squeue -h -t PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED -o %i 2>/dev/null) ]] && break
            sleep 0.5
        done
    fi
    stop_pid slurmd
    stop_pid slurmctld
    stop_pid munged
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    if [[ -L $ETC_LINK && $(readlink "$ETC_LINK") == "$CONF" ]]; then
        rm -f "$ETC_LINK"
    fi
    log "cluster stopped (state dir $STATE kept; remove it for a clean start)"
}

cmd_status() {
    export SLURM_CONF="$CONF"
    local d rc=0
    for d in munged slurmctld slurmd; do
        if pid_alive "$RUNDIR/$d.pid"; then
            echo "$d: running (pid $(cat "$RUNDIR/$d.pid"))"
        else
            echo "$d: not running"
            rc=1
        fi
    done
    if ((rc == 0)); then
        sinfo || rc=1
        squeue --states=all || true
    fi
    echo "SLURM_CONF=$CONF"
    return $rc
}

case "${1:-}" in
start)
    shift
    cmd_start "$@"
    ;;
stop) cmd_stop ;;
status) cmd_status ;;
env) echo "export SLURM_CONF=$CONF" ;;
-h | --help | help) usage ;;
*)
    usage >&2
    exit 2
    ;;
esac
