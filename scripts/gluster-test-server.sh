#!/usr/bin/env bash
# A one-node, one-brick Gluster volume on 127.0.0.1, for the gluster and netfs (glusterfs) tests.
#
#   scripts/gluster-test-server.sh start DIR   start glusterd and the volume; waits until the brick serves
#   scripts/gluster-test-server.sh stop DIR    stop the processes whose pid files are under DIR
#   scripts/gluster-test-server.sh status DIR  exit 0 when glusterd of DIR runs and the brick serves
#
# Everything is under DIR: glusterd.vol, glusterd's state (state/), run files, sockets and pid files
# (run/), logs (log/) and the brick (brick/). Both commands are idempotent: start does only what is
# missing, stop does nothing when nothing runs. glusterd listens on 127.0.0.1 only
# (transport.socket.bind-address) and the brick's host name resolves to 127.0.0.1: Gluster refuses
# "127.0.0.1" and "localhost" as brick hosts, so a name for it is added to /etc/hosts.
#
# DIR/gluster.env (shell syntax) tells the tests what runs: GLUSTER_HOST, GLUSTER_PORT, GLUSTER_VOLUME,
# GLUSTER_BRICK, GLUSTER_SOCKET (glusterd's CLI socket, for `gluster --glusterd-sock=`).
set -euo pipefail

HOST=${PLS_GLUSTER_HOST:-plstest-gluster.localdomain}
VOLUME=${PLS_GLUSTER_VOLUME:-plstest-gv}
PORT=24007  # libgfapi, mount.glusterfs and the bricks all find glusterd here

SERVER_NAME=gluster-test-server
# shellcheck source=lib/test-server.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/test-server.sh"
parse_args "$@"
STATE=$DIR/state RUN=$DIR/run LOGS=$DIR/log BRICK=$DIR/brick
VOLFILE=$DIR/glusterd.vol PIDFILE=$DIR/glusterd.pid SOCKET=$DIR/run/glusterd.socket

gluster_cli() {
  timeout 60 gluster --mode=script --glusterd-sock="$SOCKET" --log-file="$LOGS/cli.log" "$@"
}

# A pid file's process, if it is still the one the file was written for (its command line names
# the pid file, or for glusterd the volfile): never a recycled pid.
pid_files() {
  [[ -f "$PIDFILE" ]] && echo "$PIDFILE"
  [[ -d "$RUN" ]] && find "$RUN" -name '*.pid' -type f
  return 0
}

ensure_host_name() {
  if ! grep -qE "^127\.0\.0\.1[[:space:]](.*[[:space:]])?${HOST//./\\.}([[:space:]]|$)" /etc/hosts; then
    log "adding '127.0.0.1 $HOST' to /etc/hosts (Gluster refuses 127.0.0.1 as a brick host)"
    printf '127.0.0.1 %s\n' "$HOST" >>/etc/hosts
  fi
  local resolved
  resolved=$(getent ahostsv4 "$HOST" | awk 'NR == 1 {print $1}')
  [[ "$resolved" == 127.0.0.1 ]] || die "$HOST resolves to '${resolved:-nothing}', not 127.0.0.1; fix /etc/hosts"
}

write_volfile() {
  cat >"$VOLFILE.tmp" <<EOF
# Written by scripts/gluster-test-server.sh: a test glusterd on 127.0.0.1 with all its files under $DIR.
volume management
    type mgmt/glusterd
    option working-directory $STATE
    option run-directory $RUN
    option logging-directory $LOGS
    option glusterd-sockfile $SOCKET
    option transport-type socket
    option transport.socket.bind-address 127.0.0.1
    option transport.socket.listen-port $PORT
    option transport.address-family inet
    option transport.socket.keepalive-time 10
    option transport.socket.keepalive-interval 2
    option transport.socket.read-fail-log off
    option ping-timeout 0
    option event-threads 1
    option max-port 60999
end-volume
EOF
  mv "$VOLFILE.tmp" "$VOLFILE"
}

port_owner() { # the process listening on 127.0.0.1:$1 or *:$1, if any
  ss -Hltnp "sport = :$1" 2>/dev/null | head -1
}

start_glusterd() {
  if live_pid "$PIDFILE" "$VOLFILE" >/dev/null; then
    return
  fi
  local owner
  owner=$(port_owner "$PORT")
  [[ -z "$owner" ]] || die "port $PORT is taken by another process ($owner); stop it first (a system glusterd?)"
  write_volfile
  mkdir -p "$STATE" "$RUN" "$LOGS"
  rm -f "$SOCKET"
  log "starting glusterd (state in $STATE)"
  glusterd --volfile="$VOLFILE" --pid-file="$PIDFILE" --log-file="$LOGS/glusterd.log"
  local deadline=$((SECONDS + 60))
  until [[ -S "$SOCKET" ]] && gluster_cli volume list >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "glusterd did not answer within 60 s; see $LOGS/glusterd.log"
    live_pid "$PIDFILE" "$VOLFILE" >/dev/null || [[ ! -s "$PIDFILE" ]] ||
      die "glusterd exited; see $LOGS/glusterd.log"
    sleep 0.2
  done
}

volume_status() { # Created, Started or Stopped; empty when the volume does not exist
  gluster_cli volume info "$VOLUME" 2>/dev/null | awk -F': ' '$1 == "Status" {print $2}'
}

brick_port() { # the brick's TCP port when it is online, else nothing
  gluster_cli volume status "$VOLUME" "$HOST:$BRICK" --xml 2>/dev/null |
    awk -F'[<>]' '$2 == "status" && $3 == "1" {online = 1} $2 == "port" {port = $3}
                  END {if (online && port > 0) print port}'
}

start_volume() {
  if [[ -z "$(volume_status)" ]]; then
    mkdir -p "$BRICK"
    log "creating volume $VOLUME on $HOST:$BRICK"
    # force: the brick is a directory on the root file system, which Gluster otherwise refuses.
    gluster_cli volume create "$VOLUME" "$HOST:$BRICK" force >/dev/null
    # 127.0.0.1 only, and nothing the tests do not use.
    gluster_cli volume set "$VOLUME" auth.allow 127.0.0.1 >/dev/null
    gluster_cli volume set "$VOLUME" nfs.disable on >/dev/null
    # libvirtd and QEMU open the volume through libgfapi from unprivileged ports.
    gluster_cli volume set "$VOLUME" server.allow-insecure on >/dev/null
  fi
  if [[ "$(volume_status)" != Started ]]; then
    gluster_cli volume start "$VOLUME" >/dev/null
  elif [[ -z "$(brick_port)" ]]; then
    gluster_cli volume start "$VOLUME" force >/dev/null  # restarts a brick process that died
  fi
  local deadline=$((SECONDS + 60)) port
  until port=$(brick_port) && [[ -n "$port" ]] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    ((SECONDS < deadline)) || die "the brick of $VOLUME did not come online within 60 s; see $LOGS/bricks"
    sleep 0.2
  done
}

write_env() {
  cat >"$DIR/gluster.env.tmp" <<EOF
GLUSTER_HOST=$HOST
GLUSTER_PORT=$PORT
GLUSTER_VOLUME=$VOLUME
GLUSTER_BRICK=$BRICK
GLUSTER_SOCKET=$SOCKET
EOF
  mv "$DIR/gluster.env.tmp" "$DIR/gluster.env"
}

start() {
  local t0=$EPOCHREALTIME
  command -v glusterd >/dev/null || die "glusterd is missing: run scripts/setup.sh (glusterfs-server)"
  ensure_host_name
  start_glusterd
  start_volume
  write_env
  log "ready: volume $VOLUME on $HOST:$PORT (brick $BRICK); start took $(elapsed "$t0") s"
}

stop() {
  local pids=() sockets=() pidfile pid
  while read -r pidfile; do
    [[ -n "$pidfile" ]] || continue
    if pid=$(live_pid "$pidfile" "$VOLFILE"); then
      pids+=("$pid")
      # A brick's socket is in /var/run/gluster whatever run-directory says: removed with its brick.
      sockets+=($(tr '\0' '\n' <"/proc/$pid/cmdline" | awk 'prev == "-S" && /\.socket$/ {print} {prev = $0}'))
    fi
  done < <(pid_files)
  if ((${#pids[@]} == 0)); then
    log "nothing runs from $DIR"
    return
  fi
  log "stopping ${#pids[@]} process(es) of $DIR: ${pids[*]}"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  local deadline=$((SECONDS + 15))
  for pid in "${pids[@]}"; do
    while running "$pid"; do
      if ((SECONDS >= deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.1
    done
  done
  rm -f "$SOCKET" "${sockets[@]}"
}

status() {
  live_pid "$PIDFILE" "$VOLFILE" >/dev/null && [[ -S "$SOCKET" && -n "$(brick_port)" ]]
}

case "$ACTION" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
