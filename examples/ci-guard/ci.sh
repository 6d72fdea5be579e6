#!/usr/bin/env bash
# What a CI job runs for a change to this stack: preview it, then let the storage guard refuse the
# change if it would delete or replace a pool, volume or secret that a reviewer has not allowed by
# name. Reviewers allow with ALLOW_STORAGE_CHANGES="vm1-disk images" (e.g. from a pull-request label).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

pulumi preview --json --non-interactive > preview.json

allow=()
for name in ${ALLOW_STORAGE_CHANGES:-}; do
  allow+=(--allow "$name")
done
pulumi-libvirt-storage guard preview.json "${allow[@]}"
