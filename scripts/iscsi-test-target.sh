#!/usr/bin/env bash
# A userspace iSCSI target (tgtd) on 127.0.0.1, for the iscsi-direct tests.
#
#   scripts/iscsi-test-target.sh start DIR   start tgtd and its targets; waits until an initiator sees them
#   scripts/iscsi-test-target.sh stop DIR    stop the tgtd whose pid file is DIR/tgtd.pid
#   scripts/iscsi-test-target.sh status DIR  exit 0 when the tgtd of DIR runs with both targets
#
# Everything is under DIR: the pid file, tgtd's management socket (run/), its log and the sparse
# backing files of the LUNs. Both commands are idempotent. Two targets, each LUN a sparse file:
#   <prefix>:open  LUNs 1 and 2, no authentication
#   <prefix>:chap  LUN 1, CHAP (an incoming account: the initiator proves it knows the password)
# Both accept initiators from 127.0.0.1 only.
#
# DIR/iscsi.env (shell syntax) tells the tests what runs: ISCSI_HOST, ISCSI_PORT, ISCSI_OPEN_IQN,
# ISCSI_OPEN_LUNS, ISCSI_CHAP_IQN, ISCSI_CHAP_LUNS, ISCSI_CHAP_USER, ISCSI_CHAP_PASSWORD,
# ISCSI_INITIATOR_IQN, ISCSI_LUN_BYTES, ISCSI_BACKING_DIR.
set -euo pipefail

PREFIX=${PLS_ISCSI_IQN_PREFIX:-iqn.2024-01.localdomain.plstest}
WANT_PORT=${PLS_ISCSI_PORT:-3260}
OPEN_IQN=$PREFIX:open CHAP_IQN=$PREFIX:chap INITIATOR_IQN=$PREFIX:initiator
CHAP_USER=plstest-chap
CHAP_PASSWORD=plstest-chap-password  # a test fixture's password, not a secret: it guards 127.0.0.1 only
LUN_BYTES=$((32 * 1024 * 1024))

SERVER_NAME=iscsi-test-target
# shellcheck source=lib/test-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/test-server.sh"
parse_args "$@"
PIDFILE=$DIR/tgtd.pid RUN=$DIR/run LOGFILE=$DIR/tgtd.log ENVFILE=$DIR/iscsi.env
# tgtd and tgtadm both take their management socket from this variable (socket.<control port>).
export TGT_IPC_SOCKET=$RUN/socket

tgtadm_() { timeout 30 tgtadm --lld iscsi "$@"; }

port_taken() { [[ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]]; }

current_port() { # the port the running tgtd was started on
  [[ -f "$ENVFILE" ]] && awk -F= '$1 == "ISCSI_PORT" {print $2}' "$ENVFILE"
  return 0
}

start_tgtd() {
  PORT=$(current_port)
  if live_pid "$PIDFILE" >/dev/null && [[ -n "$PORT" ]]; then
    return
  fi
  PORT=$WANT_PORT
  while port_taken "$PORT"; do
    ((PORT < WANT_PORT + 40)) || die "no free port from $WANT_PORT to $PORT for the iSCSI portal"
    PORT=$((PORT + 1))
  done
  [[ "$PORT" == "$WANT_PORT" ]] || log "port $WANT_PORT is taken; the portal uses $PORT"
  mkdir -p "$RUN"
  rm -f "$RUN"/socket.*
  log "starting tgtd on 127.0.0.1:$PORT"
  # Foreground mode in a new session: its log goes to DIR, not to syslog.
  setsid tgtd -f --pid-file "$PIDFILE" --iscsi "portal=127.0.0.1:$PORT" </dev/null >>"$LOGFILE" 2>&1 &
  echo $! >"$PIDFILE"
  local deadline=$((SECONDS + 30))
  until tgtadm_ --op show --mode target >/dev/null 2>&1 && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do
    ((SECONDS < deadline)) || die "tgtd did not answer within 30 s; see $LOGFILE"
    live_pid "$PIDFILE" >/dev/null || die "tgtd exited; see $LOGFILE"
    sleep 0.1
  done
  write_env  # the port, for the next `start` and for the tests
}

target_tid() { # tid of a target by name, or nothing
  tgtadm_ --op show --mode target | awk -v iqn="$1" '$1 == "Target" && $3 == iqn {sub(":", "", $2); print $2}'
}

lun_count() { # LUNs of a target other than the controller LUN 0
  tgtadm_ --op show --mode target | awk -v iqn="$1" '
    $1 == "Target" {inside = ($3 == iqn)}
    inside && $1 == "LUN:" && $2 != "0" {n++}
    END {print n + 0}'
}

ensure_target() { # ensure_target TID IQN LUNS [chap]
  local tid=$1 iqn=$2 luns=$3 auth=${4:-}
  if [[ -n "$(target_tid "$iqn")" && "$(lun_count "$iqn")" == "$luns" ]]; then
    return
  fi
  [[ -z "$(target_tid "$iqn")" ]] || tgtadm_ --op delete --force --mode target --tid "$tid"
  tgtadm_ --op new --mode target --tid "$tid" --targetname "$iqn"
  local lun backing
  for lun in $(seq 1 "$luns"); do
    backing=$DIR/${iqn##*:}-lun$lun.img
    [[ -f "$backing" ]] || truncate -s "$LUN_BYTES" "$backing"  # sparse
    tgtadm_ --op new --mode logicalunit --tid "$tid" --lun "$lun" --backing-store "$backing"
  done
  tgtadm_ --op bind --mode target --tid "$tid" --initiator-address 127.0.0.1
  if [[ "$auth" == chap ]]; then
    tgtadm_ --op show --mode account | grep -qx "[[:space:]]*$CHAP_USER" ||
      tgtadm_ --op new --mode account --user "$CHAP_USER" --password "$CHAP_PASSWORD"
    tgtadm_ --op bind --mode account --tid "$tid" --user "$CHAP_USER"
  fi
}

write_env() {
  cat >"$ENVFILE.tmp" <<EOF
ISCSI_HOST=127.0.0.1
ISCSI_PORT=$PORT
ISCSI_OPEN_IQN=$OPEN_IQN
ISCSI_OPEN_LUNS=2
ISCSI_CHAP_IQN=$CHAP_IQN
ISCSI_CHAP_LUNS=1
ISCSI_CHAP_USER=$CHAP_USER
ISCSI_CHAP_PASSWORD=$CHAP_PASSWORD
ISCSI_INITIATOR_IQN=$INITIATOR_IQN
ISCSI_LUN_BYTES=$LUN_BYTES
ISCSI_BACKING_DIR=$DIR
EOF
  mv "$ENVFILE.tmp" "$ENVFILE"
}

start() {
  local t0=$EPOCHREALTIME
  command -v tgtd >/dev/null || die "tgtd is missing: run scripts/setup.sh (tgt)"
  start_tgtd
  ensure_target 1 "$OPEN_IQN" 2
  ensure_target 2 "$CHAP_IQN" 1 chap
  write_env
  # Ready when an initiator on 127.0.0.1 discovers both targets (libiscsi, as libvirt uses it).
  local deadline=$((SECONDS + 30))
  until iscsi-ls -i "$INITIATOR_IQN" "iscsi://127.0.0.1:$PORT" 2>/dev/null | grep -qF "$CHAP_IQN"; do
    ((SECONDS < deadline)) || die "the targets are not discoverable on 127.0.0.1:$PORT within 30 s; see $LOGFILE"
    sleep 0.2
  done
  log "ready: $OPEN_IQN and $CHAP_IQN on 127.0.0.1:$PORT; start took $(elapsed "$t0") s"
}

stop() {
  local pid
  if ! pid=$(live_pid "$PIDFILE"); then
    log "nothing runs from $DIR"
    return
  fi
  log "stopping tgtd $pid"
  # tgtd ignores SIGTERM; it shuts down on `delete --mode system` once it has no targets left.
  local tid
  for tid in $(tgtadm_ --op show --mode target 2>/dev/null | awk '$1 == "Target" {sub(":", "", $2); print $2}'); do
    tgtadm_ --op delete --force --mode target --tid "$tid" || true
  done
  tgtadm_ --op delete --mode system || true
  local deadline=$((SECONDS + 10))
  while running "$pid"; do
    if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.1
  done
  rm -f "$RUN"/socket.* "$PIDFILE"
}

status() {
  live_pid "$PIDFILE" >/dev/null && [[ "$(lun_count "$OPEN_IQN")" == 2 && "$(lun_count "$CHAP_IQN")" == 1 ]]
}

case "$ACTION" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
