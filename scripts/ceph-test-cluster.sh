#!/usr/bin/env bash
# A one-node Ceph cluster for the rbd tests: one monitor, one manager, one BlueStore OSD on a
# sparse file, bound to 127.0.0.1 only, with every file it has under DIR (configuration, keyrings,
# daemon data, pid files, admin sockets, logs). Nothing in /etc/ceph or /var/lib/ceph is read or
# written; every command is given `-c DIR/ceph.conf`.
#
#   scripts/ceph-test-cluster.sh start DIR    bootstrap DIR (first time) or start the daemons that are
#                                             not running; returns once the cluster is HEALTH_OK
#   scripts/ceph-test-cluster.sh stop DIR     stop the daemons whose pid files are in DIR, and wait
#   scripts/ceph-test-cluster.sh status DIR   each daemon, then `ceph health`; exit 1 unless all run
#                                             and the cluster is healthy
#
# Clients use `ceph -c DIR/ceph.conf ...` (client.admin's keyring is DIR/ceph.client.admin.keyring).
# The monitor listens on [v2:127.0.0.1:3300,v1:127.0.0.1:6789]; CEPH_TEST_MON_V2_PORT and
# CEPH_TEST_MON_V1_PORT choose other ports. Needs ceph-mon, ceph-mgr, ceph-osd and ceph-common
# (scripts/setup.sh installs them); run as root (the daemons run as root, --setuser root).
set -euo pipefail

usage() { echo "usage: $0 start|stop|status DIR" >&2; exit 2; }
(($# == 2)) || usage
ACTION=$1
if [[ "$ACTION" == start ]]; then
  mkdir -p "$2"
elif [[ ! -d "$2" ]]; then
  echo "no cluster in $2" >&2
  [[ "$ACTION" == stop ]] && exit 0 || exit 1
fi
DIR=$(cd "$2" && pwd)
CONF="$DIR/ceph.conf"
MON_V2_PORT=${CEPH_TEST_MON_V2_PORT:-3300}
MON_V1_PORT=${CEPH_TEST_MON_V1_PORT:-6789}
MON_ID=a
MGR_ID=x
OSD_ID=0
OSD_SIZE_BYTES=$((4 * 1024 * 1024 * 1024))
WAIT_SECONDS=${CEPH_TEST_WAIT_SECONDS:-180}
DAEMONS=("mon.$MON_ID" "mgr.$MGR_ID" "osd.$OSD_ID")

log() { printf '[ceph-test-cluster] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

ceph_cli() { timeout 60 ceph -c "$CONF" --connect-timeout 10 "$@"; }

pid_file() { echo "$DIR/run/$1.pid"; }

# The pid of daemon $1 when it runs *from this DIR* (a stale pid file or a reused pid does not count).
running_pid() {
  local file pid
  file=$(pid_file "$1")
  [[ -s "$file" ]] || return 1
  pid=$(<"$file")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CONF" || return 1
  echo "$pid"
}

# Alive and not a zombie (the daemons are reparented to pid 1, which may be slow to reap them).
alive() { [[ -r "/proc/$1/stat" ]] && [[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]]; }

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_conf() {
  local fsid=$1
  cat >"$CONF.tmp" <<EOF
# Written by scripts/ceph-test-cluster.sh: a one-node test cluster on 127.0.0.1, state in $DIR.
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]
mon initial members = $MON_ID
public network = 127.0.0.1/32
cluster network = 127.0.0.1/32
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
run dir = $DIR/run
crash dir = $DIR/crash
# One OSD: one copy of everything, placement across OSDs rather than hosts, no warning about it.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 1
mon data avail crit = 0
# No mgr module that opens a port (restful, dashboard, prometheus).
mgr initial modules = iostat

[client.admin]
keyring = $DIR/ceph.client.admin.keyring

[mon]
mon data = $DIR/mon/\$cluster-\$id
keyring = $DIR/mon/\$cluster-\$id/keyring
mon cluster log file = $DIR/log/\$cluster.log
log file = $DIR/log/\$cluster-\$name.log
pid file = $DIR/run/\$name.pid

[mgr]
mgr data = $DIR/mgr/\$cluster-\$id
keyring = $DIR/mgr/\$cluster-\$id/keyring
log file = $DIR/log/\$cluster-\$name.log
pid file = $DIR/run/\$name.pid

[osd]
osd data = $DIR/osd/\$cluster-\$id
keyring = $DIR/osd/\$cluster-\$id/keyring
log file = $DIR/log/\$cluster-\$name.log
pid file = $DIR/run/\$name.pid
osd objectstore = bluestore
# BlueStore on a sparse regular file: no loop device, no partition.
bluestore block path = $DIR/osd/block
bluestore block size = $OSD_SIZE_BYTES
bluestore block create = true
bluestore block db create = false
bluestore block wal create = false
osd memory target = 1073741824
osd crush update on start = true
EOF
  mv "$CONF.tmp" "$CONF"
}

start_daemon() { # mon|mgr|osd id
  local kind=$1 id=$2 name="$1.$2" pid
  if pid=$(running_pid "$name"); then
    return
  fi
  rm -f "$(pid_file "$name")"
  "ceph-$kind" -c "$CONF" -i "$id" --setuser root --setgroup root >>"$DIR/log/start-$name.log" 2>&1 \
    || die "ceph-$kind -i $id did not start; see $DIR/log/ceph-$name.log"
  # The daemon forks; its pid file appears once it runs.
  for _ in $(seq 1 100); do
    running_pid "$name" >/dev/null && return
    sleep 0.1
  done
  die "$name did not write its pid file; see $DIR/log/ceph-$name.log"
}

wait_until() { # description, command...
  local what=$1 deadline=$((SECONDS + WAIT_SECONDS))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { log "timed out after ${WAIT_SECONDS}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

mon_answers() { ceph_cli mon stat; }
mgr_available() { ceph_cli mgr stat -f json | grep -q '"available": *true'; }
osd_up_and_in() { ceph_cli osd stat -f json | grep -q '"num_up_osds": *1,.*"num_in_osds": *1'; }
health_ok() { [[ "$(ceph_cli health)" == HEALTH_OK* ]]; }
# HEALTH_OK alone comes too early: right after the OSD boots the manager has no PG stats yet.
pgs_active_clean() {
  local stat
  stat=$(ceph_cli pg stat)
  [[ "$stat" =~ ^([0-9]+)\ pgs:\ ([0-9]+)\ active\+clean\; ]] && ((BASH_REMATCH[1] > 0)) \
    && [[ "${BASH_REMATCH[1]}" == "${BASH_REMATCH[2]}" ]]
}

bootstrap() {
  log "bootstrapping a new cluster in $DIR"
  local fsid osd_uuid tmp="$DIR/bootstrap"
  # Only what this script makes: a half-made cluster from an interrupted start is made again.
  rm -rf "$DIR/mon" "$DIR/mgr" "$DIR/osd" "$DIR/run" "$DIR/crash" "$tmp" "$DIR"/ceph.client.admin.keyring
  mkdir -p "$DIR/mon" "$DIR/mgr/ceph-$MGR_ID" "$DIR/osd/ceph-$OSD_ID" "$DIR/run" "$DIR/log" "$DIR/crash" "$tmp"
  chmod 0700 "$DIR" "$tmp"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"

  # Keys: the monitors' own, and client.admin's (imported into the monitor at mkfs).
  ceph-authtool --create-keyring "$tmp/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$DIR/ceph.client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  chmod 0600 "$DIR/ceph.client.admin.keyring"
  ceph-authtool "$tmp/mon.keyring" --import-keyring "$DIR/ceph.client.admin.keyring" >/dev/null
  monmaptool --create --fsid "$fsid" --addv "$MON_ID" "[v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]" \
    "$tmp/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i "$MON_ID" --monmap "$tmp/monmap" --keyring "$tmp/mon.keyring" \
    --setuser root --setgroup root
  start_daemon mon "$MON_ID"
  wait_until "the monitor to answer" mon_answers || die "the monitor does not answer; see $DIR/log"

  ceph_cli auth get-or-create "mgr.$MGR_ID" mon 'allow profile mgr' osd 'allow *' mds 'allow *' \
    -o "$DIR/mgr/ceph-$MGR_ID/keyring" >/dev/null
  start_daemon mgr "$MGR_ID"

  local id
  id=$(ceph_cli osd new "$osd_uuid" "$OSD_ID")
  [[ "$id" == "$OSD_ID" ]] || die "ceph osd new gave id $id, expected $OSD_ID"
  # The OSD's key first: mkfs asks the monitor for its configuration.
  ceph-authtool --create-keyring "$DIR/osd/ceph-$OSD_ID/keyring" --gen-key -n "osd.$OSD_ID" >/dev/null
  ceph_cli auth add "osd.$OSD_ID" osd 'allow *' mon 'allow profile osd' mgr 'allow profile osd' \
    -i "$DIR/osd/ceph-$OSD_ID/keyring" >/dev/null 2>&1
  ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$osd_uuid" --setuser root --setgroup root \
    >"$DIR/log/osd-mkfs.log" 2>&1 || die "ceph-osd --mkfs failed; see $DIR/log/osd-mkfs.log"
  start_daemon osd "$OSD_ID"
  rm -rf "$tmp"
  touch "$DIR/bootstrapped"
}

start() {
  local started=$SECONDS what=start
  if [[ -f "$DIR/bootstrapped" ]]; then
    [[ -f "$CONF" ]] || die "$DIR/bootstrapped is there but $CONF is not"
    if ! running_pid "mon.$MON_ID" >/dev/null; then
      ! port_taken "$MON_V1_PORT" || die "127.0.0.1:$MON_V1_PORT is taken by another process"
    fi
    start_daemon mon "$MON_ID"
    start_daemon mgr "$MGR_ID"
    start_daemon osd "$OSD_ID"
  else
    for daemon in "${DAEMONS[@]}"; do
      ! running_pid "$daemon" >/dev/null || die "$daemon of a half-made cluster runs from $DIR: stop it first"
    done
    for port in "$MON_V2_PORT" "$MON_V1_PORT"; do
      ! port_taken "$port" || die "127.0.0.1:$port is taken by another process (another test cluster?)"
    done
    bootstrap
    what=bootstrap
  fi
  wait_until "the monitor to answer" mon_answers || die "the monitor does not answer; see $DIR/log"
  wait_until "a manager" mgr_available || die "no manager became available; see $DIR/log"
  wait_until "osd.$OSD_ID to be up and in" osd_up_and_in || die "osd.$OSD_ID is not up; see $DIR/log"
  wait_until "every placement group to be active+clean" pgs_active_clean || die "placement groups are not active+clean"
  if ! wait_until "HEALTH_OK" health_ok; then
    ceph_cli health detail >&2 || true
    die "the cluster did not become healthy"
  fi
  log "cluster in $DIR is HEALTH_OK; $what took $((SECONDS - started)) s"
}

stop() {
  local daemon pid pids=()
  for daemon in osd."$OSD_ID" mgr."$MGR_ID" mon."$MON_ID"; do
    if pid=$(running_pid "$daemon"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 300); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      log "pid $pid did not stop within 30 s of SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while alive "$pid"; do sleep 0.1; done
    fi
  done
  rm -f "$DIR"/run/*.pid
  log "stopped ${#pids[@]} daemon(s) of $DIR"
}

status() {
  local daemon pid ok=0
  for daemon in "${DAEMONS[@]}"; do
    if pid=$(running_pid "$daemon"); then
      echo "$daemon: running (pid $pid)"
    else
      echo "$daemon: stopped"
      ok=1
    fi
  done
  if ((ok == 0)) && health=$(ceph_cli health 2>&1); then
    echo "health: $health"
    [[ "$health" == HEALTH_OK* ]] || ok=1
  else
    echo "health: unknown"
    ok=1
  fi
  return "$ok"
}

case "$ACTION" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
