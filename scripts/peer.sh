#!/usr/bin/env bash
# The benchmark peer: OpenTofu driving terraform-provider-libvirt, built from the Go module proxy
# and cached outside the work tree. Idempotent; warm, it rebuilds nothing.
#   bash scripts/peer.sh      # last line on stdout: TOFU=<path> PROVIDER_DIR=<dir>
# Both modules carry replace directives, so `go install mod@version` refuses them: each one is
# downloaded with `go mod download -json` and built in a writable copy of its source.
set -euo pipefail

CACHE="${PLS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-libvirt-storage}/peer"
TOFU_MODULE=github.com/opentofu/opentofu
TOFU_VERSION=v1.10.6
PROVIDER_MODULE=github.com/dmacvicar/terraform-provider-libvirt
PROVIDER_VERSION=v0.8.3  # exact: the proxy refuses this module's version list

TOFU="$CACHE/tofu-$TOFU_VERSION/tofu"
PROVIDER_DIR="$CACHE/terraform-provider-libvirt-$PROVIDER_VERSION"
PROVIDER="$PROVIDER_DIR/terraform-provider-libvirt"

log() { printf '[peer] %s\n' "$*" >&2; }

SCRATCH=""
cleanup() { [[ -z "$SCRATCH" ]] || rm -rf "$SCRATCH"; }
trap cleanup EXIT

scratch() {
  if [[ -z "$SCRATCH" ]]; then
    SCRATCH=$(mktemp -d -t plstest-bench-peer-build-XXXXXX)
    # A throwaway main module to run `go mod download` from (not the project's go.mod).
    (cd "$SCRATCH" && mkdir mod && cd mod && go mod init plstest-bench-peer/download >/dev/null 2>&1)
  fi
}

module_dir() { # module version -> the read-only source directory in the module cache
  (cd "$SCRATCH/mod" && GOFLAGS=-mod=mod go mod download -json "$1@$2") |
    python3 -c 'import json, sys
info = json.load(sys.stdin)
if info.get("Error") or not info.get("Dir"):
    sys.exit("go mod download: " + str(info.get("Error") or "no Dir"))
print(info["Dir"])'
}

build() { # module version package output [ldflags]
  local module=$1 version=$2 pkg=$3 out=$4 ldflags=${5:-} src work started=$SECONDS
  log "building $module $version ($pkg) into $out (cold: minutes on 2 cores)"
  scratch  # here, not inside $(...): a subshell's SCRATCH would not reach the EXIT trap
  src=$(module_dir "$module" "$version")
  work="$SCRATCH/$(basename "$out")-src"
  mkdir -p "$work" "$(dirname "$out")"
  cp -r "$src/." "$work/" && chmod -R u+w "$work"
  (cd "$work" && GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 \
    go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  rm -rf "$work"
  log "built $(basename "$out") in $((SECONDS - started)) s"
}

if [[ ! -x "$TOFU" ]]; then
  # The version comes from version/VERSION (embedded); release builds also mark it non-dev.
  build "$TOFU_MODULE" "$TOFU_VERSION" ./cmd/tofu "$TOFU" "-X github.com/opentofu/opentofu/version.dev=no"
fi
if [[ ! -x "$PROVIDER" ]]; then
  build "$PROVIDER_MODULE" "$PROVIDER_VERSION" . "$PROVIDER" \
    "-X github.com/dmacvicar/terraform-provider-libvirt/version.ProviderVersion=$PROVIDER_VERSION"
fi

log "ready: $("$TOFU" version 2>/dev/null | head -1)"
echo "TOFU=$TOFU PROVIDER_DIR=$PROVIDER_DIR"
