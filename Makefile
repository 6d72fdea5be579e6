# Every target runs the same idempotent set-up first (scripts/setup.sh).
SHELL := /bin/bash
ROOT := $(CURDIR)
export PATH := $(ROOT)/.venv/bin:$(PATH)
# Local file state; never Pulumi Cloud. The passphrase only protects this demo state.
export PULUMI_BACKEND_URL := file://$(ROOT)/.pulumi-state
export PULUMI_CONFIG_PASSPHRASE ?= pulumi-libvirt-storage-demo
export PULUMI_HOME := $(ROOT)/.pulumi-home
export PULUMI_SKIP_UPDATE_CHECK := true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
export LIBVIRT_DEFAULT_URI ?= qemu:///system

.PHONY: setup demo demo-destroy test test-unit sdk bench

setup:
	@bash scripts/setup.sh
	@mkdir -p .pulumi-state .pulumi-home

## demo: set up, then `pulumi up` the quickstart against the local libvirt and print its outputs
demo: setup
	cd examples/quickstart && (pulumi stack select dev 2>/dev/null || pulumi stack init dev) \
	  && pulumi up --yes --skip-preview && pulumi stack output

## demo-destroy: remove what `make demo` created
demo-destroy: setup
	cd examples/quickstart && pulumi stack select dev && pulumi destroy --yes --skip-preview

## test: the whole suite: unit, protocol, integration (real libvirtd) and e2e (real engine)
test: setup
	.venv/bin/python -m pytest -ra

## bench: what a deployment costs against the libvirt floor (benchmarks/), N = 100 and 500; prints a table.
## ARGS=--quick (N = 10), ARGS=--profile, ARGS=--rbd, ARGS="--n 200 --parts floor,protocol,engine,peer,pulumi-libvirt"
bench: setup
	@.venv/bin/python -c "import pyinstrument" 2>/dev/null || .venv/bin/python -m pip install -q -e ".[test,bench]"
	.venv/bin/python -m benchmarks.run $(ARGS)

## sdk: regenerate the SDK from the resource schemas
sdk: setup
	.venv/bin/python -m pulumi_libvirt_storage_provider.codegen
