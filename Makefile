# Airlock: `make run` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help setup plugins build run test lint unit bench
help:
	@echo "make run    build everything and run the service with demo data and plugins"
	@echo "make test   build everything and run every check and test"
	@echo "make bench  run the benchmarks (criterion)"

setup:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust 1.95+ with rustup first"; exit 1; }

# Builds every plugin (examples and test plugins) to plugins/dist/*.wasm; installs the
# wasm guest toolchain when it is missing.
plugins: setup
	scripts/build-plugins.sh

build: setup
	$(CARGO) build --release -p airlock-host

run: plugins build
	scripts/run-demo.sh

lint: setup
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	@# An auditor verifies a log with airlock-audit alone, and the model is engine-free:
	@# neither may pull in the sandbox or SQLite.
	@for crate in airlock-core airlock-audit; do \
		! $(CARGO) tree -p $$crate -e normal,build --prefix none | grep -E '^(wasmtime|rusqlite|libsqlite3-sys) ' \
			|| { echo "lint: $$crate must not depend on wasmtime or SQLite (cargo tree -p $$crate)"; exit 1; }; \
	done

# Property tests use a fixed seed here so CI is reproducible; run `cargo test` directly
# (or set PROPTEST_RNG_SEED) to explore new random cases.
PROPTEST_RNG_SEED ?= 20261129
unit: plugins
	PROPTEST_RNG_SEED=$(PROPTEST_RNG_SEED) $(CARGO) test --workspace

test: plugins lint unit

bench: plugins
	$(CARGO) bench --workspace
