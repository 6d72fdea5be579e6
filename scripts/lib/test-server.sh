# Shared by scripts/gluster-test-server.sh and scripts/iscsi-test-target.sh (sourced, not run):
# logging, the `start|stop|status DIR` contract, and pid files that name the DIR they belong to.
# The sourcing script sets SERVER_NAME first.

elapsed() { awk -v t0="$1" -v t1="$EPOCHREALTIME" 'BEGIN {printf "%.1f", t1 - t0}'; }
log() { printf '[%s] %s\n' "$SERVER_NAME" "$*" >&2; }
die() { log "$*"; exit 1; }
usage() { die "usage: $0 start|stop|status DIR"; }

# parse_args "$@": sets ACTION and DIR (made absolute; created by start). A DIR that does not
# exist never had a server started from it: stop has nothing to do, status fails.
parse_args() {
  (($# == 2)) || usage
  ACTION=$1
  [[ "$ACTION" != start ]] || mkdir -p "$2"
  if [[ ! -d "$2" ]]; then
    [[ "$ACTION" == stop ]] && exit 0
    exit 1
  fi
  DIR=$(cd "$2" && pwd)
}

# live_pid PIDFILE [MARKER...]: the pid PIDFILE holds, when that process's command line names
# PIDFILE or one of the MARKERs (so a recycled pid of another process never counts as ours).
live_pid() {
  local pidfile=$1 pid marker
  shift
  [[ -s "$pidfile" ]] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [[ -n "$pid" && -r /proc/$pid/cmdline ]] || return 1
  local patterns=(-e "$pidfile")
  for marker in "$@"; do patterns+=(-e "$marker"); done
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "${patterns[@]}" || return 1
  echo "$pid"
}

running() { # alive and not a zombie waiting for its parent (here often PID 1) to reap it
  local state
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) && [[ "$state" != Z ]]
}
