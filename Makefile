# egress-proxy: the two set-up commands are `make run` and `make test`.
SWIFT ?= swift
POLICY ?= policies/default.yaml
LISTEN ?= 127.0.0.1:3128
CA_DIR ?= certs

.PHONY: run test build release deps bench clean

deps:
	@scripts/install-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## Sidecar with the default policy; creates certs/<sandbox>/ca.pem on first start.
run: release
	.build/release/egress-proxy run --policy $(POLICY) --listen $(LISTEN) --ca-dir $(CA_DIR)

## Every test: unit, policy golden files, and loopback integration tests with curl/openssl.
## The integration tests run the built binary, so build it first.
test: deps
	$(SWIFT) build
	$(SWIFT) test

bench: release
	bench/run-proxy-bench.sh

clean:
	rm -rf .build
