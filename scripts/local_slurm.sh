#!/usr/bin/env bash
# A one-node SLURM cluster on localhost, for the tests of `snakemake --profile slurm`.
#
#   scripts/local_slurm.sh start    install (if missing) and start munge + slurmctld + slurmd; wait for
#                                   the node to be idle; print "started" (or "already running")
#   scripts/local_slurm.sh stop     cancel this cluster's jobs, stop the daemons this script started
#                                   (by the PIDs in their PID files), print "stopped"
#   scripts/local_slurm.sh status   exit 0 if the cluster answers and the node is up, 1 otherwise
#
# Debian's slurm-wlm (22.05) + munge as plain background daemons: no systemd, no cgroups, no
# accounting database, so `sacct` does not work and clients must read job states with `squeue` /
# `scontrol` (finished jobs stay visible for an hour, MinJobAge). The node has two fake GPUs (gres
# `gpu` on the device files /dev/null and /dev/zero): `--gpus=K` and `--gres=gpu:K` are scheduled,
# set CUDA_VISIBLE_DEVICES, and serialise on them.
#
# State (spool, logs, PID files) lives in $W2S_SLURM_DIR (default /tmp/w2s-slurm). slurm.conf
# must be where every SLURM command looks by default, /etc/slurm/slurm.conf, because a job's own
# `srun` runs without the SLURM_* variables (SLURM_CONF included); the file carries a marker line,
# and a slurm.conf without it (a real cluster's) is never touched. A running cluster whose config
# differs from the one this script writes is restarted.
#
# Needs root (slurmd starts jobs as their users; apt-get installs the packages). Exit status 77
# means "cannot run a cluster on this machine" (not root, no apt-get, a real slurm.conf): callers
# may skip on it.
set -euo pipefail

DIR=${W2S_SLURM_DIR:-/tmp/w2s-slurm}
CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
GRES=$CONF_DIR/gres.conf
MARKER="# written by weak-to-strong scripts/local_slurm.sh"
NODE=$(hostname -s)
# Memory the node offers to jobs (MB); default 3/4 of the machine's, so the OS keeps room.
NODE_MEM_MB=${W2S_SLURM_MEM_MB:-}
WAIT_S=${W2S_SLURM_WAIT_S:-60}

say() { echo "local_slurm: $*" >&2; }
die() { say "error: $1"; exit "${2:-1}"; }

alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_state() { sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n1 || true; }

cluster_up() {
  alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid" && [[ $(node_state) =~ ^(idle|mixed|allocated) ]]
}

ours() { [[ -e $1 ]] && grep -qF "$MARKER" "$1"; }

install_packages() {
  local missing=() pkgs=(slurmctld slurmd slurm-client munge)
  for cmd in slurmctld slurmd sbatch munged; do
    command -v "$cmd" >/dev/null || missing+=("$cmd")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them" 77
  say "installing ${pkgs[*]} (apt-get)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >"$DIR/apt.log" 2>&1; then
    # A fresh machine may have no package lists yet.
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$DIR/apt.log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkgs[@]}" >>"$DIR/apt.log" 2>&1 \
      || die "apt-get install failed; see $DIR/apt.log"
  fi
}

munge_answers() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
  # Reuse a munged that already answers (the machine's own); otherwise start ours.
  munge_answers && return 0
  mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
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
    munge_answers && return 0
    sleep 0.1
  done
  die "munge does not answer; see $DIR/munged.log"
}

render_config() {  # render_config SLURM_CONF GRES_CONF: the two files this script wants
  local hw mem
  # CPUs, sockets and cores from the machine itself; memory lowered so the OS keeps some.
  hw=$(slurmd -C | head -n1 | sed -e 's/ RealMemory=[0-9]*//')
  mem=$(slurmd -C | head -n1 | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  [[ -n $NODE_MEM_MB ]] || NODE_MEM_MB=$((mem * 3 / 4))
  cat >"$1" <<EOF
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
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
# A node that was down comes back by itself; finished jobs stay visible to squeue/scontrol for
# an hour (the tests read their states and GPU requests after the run).
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
$hw RealMemory=$NODE_MEM_MB Gres=gpu:2 State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  # Fake GPUs: without File= the node goes INVAL; any device file satisfies slurmd.
  cat >"$2" <<EOF
$MARKER
AutoDetect=off
NodeName=$NODE Name=gpu File=/dev/null
NodeName=$NODE Name=gpu File=/dev/zero
EOF
}

start() {
  mkdir -p "$DIR/state" "$DIR/spool"
  [[ $(id -u) -eq 0 ]] || die "must run as root (slurmd starts jobs as their users)" 77
  install_packages
  if [[ -e $CONF ]] && ! ours "$CONF"; then
    die "$CONF exists and was not written by this script: refusing to touch a real cluster's config" 77
  fi
  render_config "$DIR/slurm.conf.want" "$DIR/gres.conf.want"
  if cmp -s "$DIR/slurm.conf.want" "$CONF" && cmp -s "$DIR/gres.conf.want" "$GRES" && cluster_up; then
    echo "already running"
    return 0
  fi
  if alive "$DIR/slurmctld.pid" || alive "$DIR/slurmd.pid"; then
    say "restarting: the running cluster's config differs from this script's"
    stop >/dev/null
  fi
  start_munge
  mkdir -p "$CONF_DIR"
  mv "$DIR/slurm.conf.want" "$CONF"
  mv "$DIR/gres.conf.want" "$GRES"
  alive "$DIR/slurmctld.pid" || slurmctld || die "slurmctld did not start; see $DIR/slurmctld.log"
  alive "$DIR/slurmd.pid" || slurmd -N "$NODE" || die "slurmd did not start; see $DIR/slurmd.log"
  local state=""
  for _ in $(seq $((WAIT_S * 5))); do
    state=$(node_state || true)
    if [[ $state =~ ^(idle|mixed|allocated)$ ]]; then
      echo "started"
      return 0
    fi
    # A node left drained by an earlier run: ReturnToService covers "down", not "drain".
    if [[ $state =~ ^(drain|down) ]]; then scontrol update NodeName="$NODE" State=RESUME 2>/dev/null || true; fi
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
    if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$file"
}

stop() {
  if alive "$DIR/slurmctld.pid"; then
    # This cluster's jobs only (it is ours: no other cluster's jobs are visible to it).
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
  stop_pid munged  # only present when this script started munged
  if ours "$CONF"; then rm -f "$CONF"; fi
  if ours "$GRES"; then rm -f "$GRES"; fi
  echo "stopped"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) cluster_up ;;
  *) echo "usage: $0 start|stop|status  (state in \$W2S_SLURM_DIR, default /tmp/w2s-slurm)" >&2; exit 2 ;;
esac
