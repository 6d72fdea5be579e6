#!/usr/bin/env bash
# One idempotent set-up for a fresh Debian 12 machine (as root) and for every make target:
#   1. Debian packages the product and its tests need;
#   2. a libvirtd answering on qemu:///system (started only when none answers);
#   3. the virtualenv .venv with the project and its test dependencies;
#   4. the Pulumi CLI and its Python helpers in .venv/bin, built from the Go module
#      proxy when no recent enough `pulumi` is on PATH, cached outside the work tree;
#   5. pulumi-libvirt's provider plugin (pulumi-resource-libvirt, a bridge of
#      terraform-provider-libvirt) in .venv/bin, built the same way and cached beside it;
#   6. with --peer (or PLS_SETUP_PEER=1): the benchmark peer, OpenTofu and
#      terraform-provider-libvirt, built the same way by scripts/peer.sh and cached beside it.
# Every step checks first and does nothing when its result is already there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
CACHE="${PLS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-libvirt-storage}"
CLI_MODULE="$ROOT/tools/pulumi-cli"
# The single pin of the Pulumi version: the wrapper module's go.mod.
PULUMI_VERSION=$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" {print $2; exit}' "$CLI_MODULE/go.mod")
# The YAML language host (github.com/pulumi/pulumi-yaml), for YAML programs with the provider plugin.
YAML_VERSION=v1.25.0
# pulumi-libvirt's plugin, bridged here: tools/libvirt-bridge/go.mod pins the Terraform provider and
# the bridge; the version it reports is the one the SDK pinned in pyproject.toml asks the engine for.
LIBVIRT_BRIDGE_MODULE="$ROOT/tools/libvirt-bridge"
TF_LIBVIRT_MODULE=github.com/dmacvicar/terraform-provider-libvirt
TF_LIBVIRT_VERSION=$(awk -v m="$TF_LIBVIRT_MODULE" '$1 == m {print $2; exit}' "$LIBVIRT_BRIDGE_MODULE/go.mod")
LIBVIRT_PLUGIN_VERSION=$(sed -n 's/.*"pulumi-libvirt==\([^"]*\)".*/\1/p' "$ROOT/pyproject.toml")

log() { printf '[setup] %s\n' "$*" >&2; }

APT_PACKAGES=(
  libvirt-daemon-system libvirt-clients libvirt-dev pkg-config qemu-utils
  libvirt-daemon-driver-storage-rbd libvirt-daemon-driver-storage-gluster
  libvirt-daemon-driver-storage-iscsi-direct
  python3-venv python3-dev gcc
  # test backends: loop-device pools, a one-node Ceph, Gluster, a userspace iSCSI target, QEMU
  parted lvm2 xfsprogs e2fsprogs util-linux
  ceph-mon ceph-mgr ceph-osd ceph-common
  glusterfs-server glusterfs-client
  tgt libiscsi-bin
  qemu-system-x86 qemu-block-extra
  # a remote URI (qemu+ssh://) against an sshd on 127.0.0.1
  openssh-server openssh-client
  # pulumi-libvirt's bridged plugin: libvirt's NAT networks run dnsmasq; the Domain's xml.xslt runs xsltproc
  dnsmasq-base xsltproc
  # our fixes to terraform-provider-libvirt (tools/libvirt-bridge/patches), applied at build time
  patch
)

install_debian_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# Ready means what this provider needs: the storage and secret drivers answer. Never `virsh
# version`: it asks the QEMU driver, which after a (re)start re-probes QEMU's capabilities for
# minutes on a slow host while storage calls are answered at once.
libvirt_answers() {
  timeout 10 virsh -c qemu:///system pool-list --all >/dev/null 2>&1 &&
    timeout 10 virsh -c qemu:///system secret-list >/dev/null 2>&1
}

# /dev/kvm as Debian's udev rule leaves it on a host (root:kvm 0660; libvirt-qemu is in group kvm).
# Left root-only, libvirt's QEMU capability probe (run as root) finds KVM and every domain start
# (run as libvirt-qemu) finds it gone, throws the cached capabilities away and probes QEMU again:
# about 50 s per domain start here, against 0.5 s. Domains stay type='qemu' (TCG) all the same.
kvm_device_for_libvirt() {
  [[ -c /dev/kvm ]] && getent group kvm >/dev/null || return 0
  if [[ "$(stat -c '%G %a' /dev/kvm)" != "kvm 660" ]]; then
    log "giving /dev/kvm to group kvm (0660), as udev does on a Debian host"
    chgrp kvm /dev/kvm && chmod 0660 /dev/kvm
  fi
}

start_libvirtd() {
  # virtlogd serves QEMU domains' logs: without it no domain starts.
  mkdir -p /var/log/libvirt /var/run/libvirt
  pgrep -x virtlogd >/dev/null || virtlogd -d
  if libvirt_answers; then return; fi
  log "starting libvirtd (no systemd here)"
  mkdir -p /var/lib/libvirt/images
  pgrep -x libvirtd >/dev/null || libvirtd -d
  for _ in $(seq 1 60); do
    libvirt_answers && return
    sleep 0.5
  done
  log "libvirtd did not answer on qemu:///system within 30 s; see /var/log/libvirt"
  exit 1
}

install_virtualenv() {
  # The project (provider, dynamic SDK, plugin) and the plugin's own SDK, a package of its own.
  local stamp="$VENV/.installed" want
  want=$(cat "$ROOT/pyproject.toml" "$ROOT/sdk/python-native/pyproject.toml" | sha256sum | cut -d' ' -f1)
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return; fi
  log "installing the project into $VENV"
  [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
  "$VENV/bin/python" -m pip install -q -e "$ROOT[test]" -e "$ROOT/sdk/python-native"
  echo "$want" >"$stamp"
}

version_at_least() { # $1 >= $2, both vX.Y.Z
  [[ "$(printf '%s\n%s\n' "${1#v}" "${2#v}" | sort -V | head -1)" == "${2#v}" ]]
}

sdk_module_dir() {
  (cd "$CLI_MODULE" && GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' "github.com/pulumi/pulumi/sdk/v3")
}

install_pulumi_cli() {
  local bin="$VENV/bin" build="$CACHE/$PULUMI_VERSION"
  mkdir -p "$build"
  export GOFLAGS=-mod=mod

  # The CLI itself: an ambient one when recent enough, else our cached build.
  local ambient
  ambient=$(PATH=$(echo "$PATH" | tr ':' '\n' | grep -vx "$bin" | paste -sd:) command -v pulumi || true)
  if [[ -n "$ambient" ]] && version_at_least "$("$ambient" version 2>/dev/null || echo v0)" "$PULUMI_VERSION"; then
    ln -sf "$ambient" "$bin/pulumi"
  else
    if [[ ! -x "$build/pulumi" ]]; then
      log "building the Pulumi CLI $PULUMI_VERSION from the Go module proxy (cold: several minutes)"
      local started=$SECONDS
      (cd "$CLI_MODULE" && go build -trimpath -o "$build/pulumi.tmp" \
        -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
        github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
      mv "$build/pulumi.tmp" "$build/pulumi"
      log "Pulumi CLI built in $((SECONDS - started)) s"
    fi
    cmp -s "$build/pulumi" "$bin/pulumi" 2>/dev/null || install -m 0755 "$build/pulumi" "$bin/pulumi"
  fi

  # Our Python language host: rebuilt only when its source changes.
  local src_hash host
  src_hash=$(cat "$CLI_MODULE/go.mod" "$CLI_MODULE/go.sum" "$CLI_MODULE"/cmd/pulumi-language-python/*.go | sha256sum | cut -c1-16)
  host="$build/pulumi-language-python-$src_hash"
  if [[ ! -x "$host" ]]; then
    log "building pulumi-language-python"
    (cd "$CLI_MODULE" && go build -trimpath -o "$host.tmp" \
      -ldflags "-X main.Version=$PULUMI_VERSION" ./cmd/pulumi-language-python)
    mv "$host.tmp" "$host"
  fi
  cmp -s "$host" "$bin/pulumi-language-python" 2>/dev/null || install -m 0755 "$host" "$bin/pulumi-language-python"

  # The generator of the plugin's Python SDK (Pulumi's own pkg/codegen/python): `make sdk` runs it.
  local gen
  src_hash=$(cat "$CLI_MODULE/go.mod" "$CLI_MODULE/go.sum" "$CLI_MODULE"/cmd/pulumi-libvirt-storage-sdkgen/*.go | sha256sum | cut -c1-16)
  gen="$build/pulumi-libvirt-storage-sdkgen-$src_hash"
  if [[ ! -x "$gen" ]]; then
    log "building pulumi-libvirt-storage-sdkgen"
    (cd "$CLI_MODULE" && go build -trimpath -o "$gen.tmp" ./cmd/pulumi-libvirt-storage-sdkgen)
    mv "$gen.tmp" "$gen"
  fi
  cmp -s "$gen" "$bin/pulumi-libvirt-storage-sdkgen" 2>/dev/null || install -m 0755 "$gen" "$bin/pulumi-libvirt-storage-sdkgen"

  # The YAML language host, to run YAML programs with the provider plugin: its own main module with
  # replace directives (go install refuses those), so built from a writable copy of its source.
  local yaml="$CACHE/pulumi-yaml-$YAML_VERSION/pulumi-language-yaml"
  if [[ ! -x "$yaml" ]]; then
    log "building pulumi-language-yaml $YAML_VERSION from the Go module proxy (cold: a few minutes)"
    local src work
    src=$(cd "$CLI_MODULE" && GOFLAGS=-mod=mod go mod download -json "github.com/pulumi/pulumi-yaml@$YAML_VERSION" \
      | "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
    work=$(mktemp -d)
    cp -r "$src/." "$work/" && chmod -R u+w "$work"
    mkdir -p "$(dirname "$yaml")"
    (cd "$work" && go build -trimpath -o "$yaml.tmp" ./cmd/pulumi-language-yaml)
    mv "$yaml.tmp" "$yaml"
    rm -rf "$work"
  fi
  cmp -s "$yaml" "$bin/pulumi-language-yaml" 2>/dev/null || install -m 0755 "$yaml" "$bin/pulumi-language-yaml"

  # The Python halves of the protocol ship as files inside the sdk/v3 module.
  local sdk
  sdk=$(sdk_module_dir)
  install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$bin/pulumi-language-python-exec"
  install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" "$bin/pulumi-resource-pulumi-python"
}

install_libvirt_bridge() {
  # pulumi-libvirt is deprecated upstream and its plugin cannot be downloaded here: tfgen writes the
  # schema from the mapping, the plugin embeds it. Keyed by everything the binary is built from,
  # our patches to the Terraform provider included.
  [[ -n "$LIBVIRT_PLUGIN_VERSION" ]] || { log "no \"pulumi-libvirt==X.Y.Z\" pin in pyproject.toml"; exit 1; }
  [[ -n "$TF_LIBVIRT_VERSION" ]] || { log "no $TF_LIBVIRT_MODULE requirement in $LIBVIRT_BRIDGE_MODULE/go.mod"; exit 1; }
  local patches=() patch_file
  shopt -s nullglob
  patches=("$LIBVIRT_BRIDGE_MODULE"/patches/*.patch)
  shopt -u nullglob
  # A patch names the version it was written against; go.mod stays the one pin, and a version bump
  # stops here until each patch is rebased (renamed) or dropped, instead of building without it.
  for patch_file in "${patches[@]}"; do
    [[ "$(basename "$patch_file")" == "terraform-provider-libvirt-$TF_LIBVIRT_VERSION-"* ]] || {
      log "$patch_file is not for terraform-provider-libvirt $TF_LIBVIRT_VERSION (tools/libvirt-bridge/go.mod): rebase it onto that version and rename it, or remove it"
      exit 1
    }
  done
  local src_hash dir
  src_hash=$( (cd "$LIBVIRT_BRIDGE_MODULE" && echo "$LIBVIRT_PLUGIN_VERSION" &&
    cat go.mod go.sum $(find bridge cmd -name '*.go' | sort) &&
    for patch_file in "${patches[@]}"; do basename "$patch_file"; cat "$patch_file"; done) | sha256sum | cut -c1-16)
  dir="$CACHE/libvirt-bridge-$src_hash"
  if [[ ! -x "$dir/pulumi-resource-libvirt" ]]; then
    log "building pulumi-resource-libvirt $LIBVIRT_PLUGIN_VERSION (terraform-provider-libvirt $TF_LIBVIRT_VERSION bridged, ${#patches[@]} patch(es) of ours) from the Go module proxy (cold: several minutes)"
    local started=$SECONDS
    mkdir -p "$dir"
    # In a copy: the generated schema.json must sit beside the plugin's main.go to be embedded, and the
    # Terraform provider is patched in a writable copy of its module (the module cache is read-only).
    (
      work=$(mktemp -d)
      trap 'rm -rf "$work"' EXIT
      export GOFLAGS=-mod=mod CGO_ENABLED=0
      cp -r "$LIBVIRT_BRIDGE_MODULE/." "$work/bridge/"
      cd "$work/bridge"
      if ((${#patches[@]})); then
        upstream=$(go mod download -json "$TF_LIBVIRT_MODULE@$TF_LIBVIRT_VERSION" |
          "$VENV/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
        cp -r "$upstream/." "$work/terraform-provider-libvirt/" && chmod -R u+w "$work/terraform-provider-libvirt"
        for patch_file in "${patches[@]}"; do
          patch -d "$work/terraform-provider-libvirt" -p1 --forward --batch --quiet <"$patch_file" ||
            { log "$patch_file does not apply to $TF_LIBVIRT_MODULE $TF_LIBVIRT_VERSION"; exit 1; }
        done
        go mod edit -replace "$TF_LIBVIRT_MODULE=../terraform-provider-libvirt"
      fi
      ldflags="-s -w -X pulumi-libvirt-storage/tools/libvirt-bridge/bridge.Version=$LIBVIRT_PLUGIN_VERSION"
      go build -trimpath -ldflags "$ldflags" -o pulumi-tfgen-libvirt ./cmd/pulumi-tfgen-libvirt
      # --skip-examples: converting the docs' HCL examples needs Pulumi's Terraform converter plugin.
      ./pulumi-tfgen-libvirt schema --skip-examples --out cmd/pulumi-resource-libvirt >tfgen.log 2>&1 ||
        { cat tfgen.log >&2; exit 1; }
      cp cmd/pulumi-resource-libvirt/schema.json "$dir/schema.json"
      go build -trimpath -ldflags "$ldflags" -o "$dir/pulumi-resource-libvirt.tmp" ./cmd/pulumi-resource-libvirt
    )
    mv "$dir/pulumi-resource-libvirt.tmp" "$dir/pulumi-resource-libvirt"
    log "pulumi-resource-libvirt built in $((SECONDS - started)) s"
  fi
  cmp -s "$dir/pulumi-resource-libvirt" "$VENV/bin/pulumi-resource-libvirt" 2>/dev/null ||
    install -m 0755 "$dir/pulumi-resource-libvirt" "$VENV/bin/pulumi-resource-libvirt"
}

install_debian_packages
kvm_device_for_libvirt
start_libvirtd
install_virtualenv
install_pulumi_cli
install_libvirt_bridge
if [[ "${1:-}" == "--peer" || "${PLS_SETUP_PEER:-0}" == "1" ]]; then
  bash "$ROOT/scripts/peer.sh" >/dev/null
fi
log "ready: pulumi $("$VENV/bin/pulumi" version), libvirtd $(libvirtd --version | awk '{print $NF}')"
