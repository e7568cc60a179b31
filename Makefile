# kubectl-multinic. Quick start: `make demo`, then `make test`.
SHELL := /bin/bash
NPM_STAMP := node_modules/.package-lock.json

.PHONY: all build deps generate lint typecheck unit test test-uml demo demo-uml bench cni dist clean

all: build

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## generate: regenerate TypeScript types from deploy/crds (the single source of truth), docs/troubleshooting.md from the doctor's checks and deploy/manifests from install's renderer
generate: $(NPM_STAMP)
	node scripts/gen-crd-types.mjs
	npx tsc -p tsconfig.build.json
	node scripts/gen-troubleshooting.mjs
	node scripts/gen-manifests.mjs

## build: compile to dist/ and write oclif.manifest.json
build: $(NPM_STAMP)
	node scripts/gen-crd-types.mjs --check
	npx tsc -p tsconfig.build.json
	node scripts/manifest.mjs
	node scripts/build-help-bundle.mjs
	node scripts/gen-troubleshooting.mjs --check
	node scripts/gen-manifests.mjs --check

lint: $(NPM_STAMP)
	npx eslint .

typecheck: $(NPM_STAMP)
	npx tsc -p tsconfig.json --noEmit

## deps: the Debian packages the suite needs (scripts/deps.sh: apt-get when root, a message otherwise)
deps:
	bash scripts/deps.sh test

# The UML stage: the tests that skip on this kernel for want of ipvlan (every test whose name says ipvlan).
UML_TESTS := --filter ipvlan test/kernel/ipvlan-datapath.test.ts test/kernel/cni-macvlan.test.ts

## test: lint, typecheck and every test (unit, command, kernel, lab; privileged ones need root), then the UML stage
test: deps build lint typecheck
	npx vitest run
	bash scripts/uml-run.sh $(UML_TESTS)

## test-uml: only the tests that need a kernel feature this one lacks (ipvlan), inside a User-Mode Linux
## guest (scripts/uml-run.sh, docs/testing.md). Skips, with the reason, where UML cannot run.
test-uml: build
	bash scripts/uml-run.sh $(UML_TESTS)

## demo: the main job on the embedded local default
demo: build
	bash scripts/deps.sh demo
	bash scripts/demo.sh

## demo-uml: the lab on ipvlan L3 (examples/network.yaml) inside the UML guest: lab up, install, apply,
## check pod<->pod, iperf3 host<->host as the baseline, lab down (scripts/uml-lab.sh, docs/testing.md)
demo-uml: build
	bash scripts/uml-lab.sh

## cni: the self-contained multi-nic CNI executable (compiled with Bun; scripts/build-cni.sh --runtime node for the Node 24 SEA) at build/cni/multi-nic
cni: $(NPM_STAMP)
	bash scripts/build-cni.sh --out build/cni/multi-nic

## dist: the krew archives (linux amd64 and arm64: the CLI with its Node 24 runtime, no Node.js needed),
## each with its .sha256, in build/dist/, and plugins/multinic.yaml filled from them (scripts/build-dist.sh, docs/krew.md)
dist: build
	bash scripts/build-dist.sh --out build/dist

## bench: performance figures as ratios against a baseline run side by side
bench: build
	bash scripts/bench.sh

clean:
	rm -rf dist oclif.manifest.json
