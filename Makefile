# kubectl-multinic. Quick start: `make demo`, then `make test`.
SHELL := /bin/bash
NPM_STAMP := node_modules/.package-lock.json

.PHONY: all build deps generate lint typecheck unit test demo bench cni clean

all: build

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

## generate: regenerate TypeScript types from deploy/crds (the single source of truth) and docs/troubleshooting.md from the doctor's checks
generate: $(NPM_STAMP)
	node scripts/gen-crd-types.mjs
	npx tsc -p tsconfig.build.json
	node scripts/gen-troubleshooting.mjs

## build: compile to dist/ and write oclif.manifest.json
build: $(NPM_STAMP)
	node scripts/gen-crd-types.mjs --check
	npx tsc -p tsconfig.build.json
	npx oclif manifest >/dev/null
	node scripts/gen-troubleshooting.mjs --check

lint: $(NPM_STAMP)
	npx eslint .

typecheck: $(NPM_STAMP)
	npx tsc -p tsconfig.json --noEmit

## deps: the Debian packages the suite needs (scripts/deps.sh: apt-get when root, a message otherwise)
deps:
	bash scripts/deps.sh test

## test: lint, typecheck and every test (unit, command, kernel, lab; privileged ones need root)
test: deps build lint typecheck
	npx vitest run

## demo: the main job on the embedded local default
demo: build
	bash scripts/deps.sh demo
	bash scripts/demo.sh

## cni: the self-contained multi-nic CNI executable (Node 24 single-executable application) at build/cni/multi-nic
cni: $(NPM_STAMP)
	bash scripts/build-cni.sh --out build/cni/multi-nic

## bench: performance figures as ratios against a baseline run side by side
bench: build
	bash scripts/bench.sh

clean:
	rm -rf dist oclif.manifest.json
