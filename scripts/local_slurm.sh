#!/usr/bin/env bash
# A one-node SLURM cluster on localhost, for the tests of `snakemake --profile slurm`.
#
#   scripts/local_slurm.sh start    install (if missing) and start munge + slurmctld + slurmd; wait for
#                                   the node to be idle; print "started" (or "already running")
#   scripts/local_slurm.sh stop     cancel this cluster's jobs, stop the daemons this script started
#                                   (by the PIDs in their PID files), print "stopped"
#   scripts/local_slurm.sh status   exit 0 if the cluster answers and the node is up, 1 otherwise
#
# Debian's slurm-wlm 22.05 + munge as plain background daemons: no systemd, no cgroups, no
# accounting database (so `sacct` does not work: clients must use `squeue` for job states, see
# tests/test_slurm.py). The node has one fake GPU (gres `gpu`, File=/dev/null), so `--gpus=1`
# and `--gres=gpu:1` are scheduled, set CUDA_VISIBLE_DEVICES, and serialise on it.
#
# State (config copies, spool, logs, PID files) lives in $W2S_SLURM_DIR (default /tmp/w2s-slurm).
# slurm.conf must be where every SLURM command looks by default, /etc/slurm/slurm.conf, because the
# jobs' own `srun` drops SLURM_* variables (SLURM_CONF included); the file carries a marker line and
# a slurm.conf without it (a real cluster's) is never overwritten.
#
# Needs root (slurmd runs jobs as their users; apt-get installs the packages). Exit status 77
# means "cannot run a cluster on this machine" (not root, no apt-get): callers may skip on it.
set -euo pipefail

DIR=${W2S_SLURM_DIR:-/tmp/w2s-slurm}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
MARKER="# written by weak-to-strong scripts/local_slurm.sh"
NODE=$(hostname -s)
# Memory the node offers to jobs (MB): below the machine's, so the OS keeps room; jobs of the tiny
# default ask 4000 MB each.
NODE_MEM_MB=${W2S_SLURM_MEM_MB:-}
WAIT_S=${W2S_SLURM_WAIT_S:-60}

say() { echo "local_slurm: $*" >&2; }
die() { say "error: $*"; exit "${2:-1}"; }

alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_state() { sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n1; }

cluster_up() {
  alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" && [[ $(node_state) =~ ^(idle|mixed|allocated) ]]
}

install_packages() {
  local missing=()
  for cmd in slurmctld slurmd sbatch munged; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; install as root: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge" 77
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them" 77
  say "installing slurmctld slurmd slurm-client munge (apt-get)"
  local pkgs=(slurmctld slurmd slurm-client munge)
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >"$DIR/apt.log" 2>&1; then
    # A fresh machine may have no package lists yet.
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$DIR/apt.log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >>"$DIR/apt.log" 2>&1 \
      || die "apt-get install failed; see $DIR/apt.log"
  fi
}

start_munge() {
  # Reuse a munged that already answers (the machine's own); otherwise start ours.
  if munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    return 0
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  fi
  # munged insists that its key and folders belong to the user it runs as (here root).
  chown root:root /etc/munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
  chmod 0700 /etc/munge /var/log/munge /var/lib/munge
  chmod 0400 /etc/munge/munge.key
  chmod 0755 /run/munge
  munged --force --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" \
    || die "munged did not start; see $DIR/munged.log"
  for _ in $(seq 50); do
    munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "munge does not answer; see $DIR/munged.log"
}

write_config() {
  if [[ -e $CONF ]] && ! grep -qF "$MARKER" "$CONF"; then
    die "$CONF exists and was not written by this script: refusing to replace a real cluster's config" 77
  fi
  mkdir -p "$CONF_DIR" "$DIR/state" "$DIR/spool"
  # CPUs, sockets, cores from the machine itself; memory lowered so the OS keeps some.
  local hw mem
  hw=$(slurmd -C | head -n1 | sed -e 's/ RealMemory=[0-9]*//')
  mem=$(slurmd -C | head -n1 | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  [[ -n $NODE_MEM_MB ]] || NODE_MEM_MB=$((mem * 3 / 4))
  cat >"$CONF.tmp" <<EOF
$MARKER (state in $DIR); removed by 'stop'.
ClusterName=w2slocal
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# No systemd, no cgroups: plain process tracking, no task binding, no accounting database.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Count GPUs in each job's allocated TRES (scontrol show job: AllocTRES=...gres/gpu=1).
AccountingStorageTRES=gres/gpu
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
# A node that was down comes back by itself; finished jobs stay visible to squeue/scontrol for
# an hour (the test reads their states and GPU requests after the run).
ReturnToService=2
MinJobAge=3600
InactiveLimit=0
KillWait=5
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
GresTypes=gpu
$hw RealMemory=$NODE_MEM_MB Gres=gpu:1 State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  mv "$CONF.tmp" "$CONF"
  # A fake GPU: without File= the node goes INVAL; /dev/null satisfies slurmd.
  cat >"$CONF_DIR/gres.conf" <<EOF
$MARKER
AutoDetect=off
NodeName=$NODE Name=gpu Count=1 File=/dev/null
EOF
}

start() {
  mkdir -p "$DIR"
  if cluster_up; then
    echo "already running"
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || die "must run as root (slurmd starts jobs as their users)" 77
  install_packages
  start_munge
  write_config
  alive "$DIR/slurmctld.pid" || slurmctld || die "slurmctld did not start; see $DIR/slurmctld.log"
  alive "$DIR/slurmd.pid" || slurmd -N "$NODE" || die "slurmd did not start; see $DIR/slurmd.log"
  local state=""
  for _ in $(seq $((WAIT_S * 5))); do
    state=$(node_state)
    if [[ $state =~ ^(idle|mixed|allocated)$ ]]; then
      echo "started"
      return 0
    fi
    # A node left down or drained by an earlier run: ReturnToService covers "down", not "drain".
    [[ $state =~ ^(drain|down) ]] && scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true
    sleep 0.2
  done
  die "node $NODE is '${state:-unknown}' after ${WAIT_S}s; see $DIR/slurmctld.log and $DIR/slurmd.log"
}

stop_pid() {  # stop_pid NAME: TERM the daemon whose PID is in $DIR/NAME.pid, KILL after 10 s
  local file=$DIR/$1.pid pid
  [[ -s $file ]] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop() {
  if alive "$DIR/slurmctld.pid"; then
    # This cluster's jobs only (it is ours: no other user's jobs run on it).
    local ids
    ids=$(squeue -h -o %A 2>/dev/null | tr '\n' ' ')
    if [[ -n ${ids// /} ]]; then
      # shellcheck disable=SC2086
      scancel $ids 2>/dev/null || true
      for _ in $(seq 50); do [[ -z $(squeue -h -o %A 2>/dev/null) ]] && break; sleep 0.2; done
    fi
  fi
  stop_pid slurmd
  stop_pid slurmctld
  stop_pid munged   # only present when this script started munged
  if [[ -e $CONF ]] && grep -qF "$MARKER" "$CONF"; then
    rm -f "$CONF" "$CONF_DIR/gres.conf"
  fi
  echo "stopped"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) cluster_up ;;
  *) echo "usage: $0 start|stop|status  (state in \$W2S_SLURM_DIR, default /tmp/w2s-slurm)" >&2; exit 2 ;;
esac
