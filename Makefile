# Airlock: `make run` and `make test` are all a fresh machine needs.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: help setup plugins build run test lint unit bench fuzz fuzz-smoke fuzz-setup
help:
	@echo "make run    build everything and run the service with demo data and plugins"
	@echo "make test   build everything and run every check and test (with a fuzz smoke pass)"
	@echo "make bench  run the benchmarks (criterion)"
	@echo "make fuzz   run every fuzz target for FUZZ_SECONDS (default 300) each"

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

test: plugins lint unit fuzz-smoke

# Fuzzing on stable Rust: cargo-fuzz without a sanitizer. Each target replays its seeds
# (fuzz/seeds/<target>, checked in) and what earlier runs found (fuzz/corpus/<target>),
# then explores for the given time; a finding fails the run and is written to
# fuzz/artifacts/<target>/.
FUZZ_TARGETS := manifest redactor audit_verify
FUZZ_SECONDS ?= 300
CARGO_FUZZ_VERSION := 0.13.2

fuzz-setup: setup
	@cargo fuzz --version 2>/dev/null | grep -q "$(CARGO_FUZZ_VERSION)" \
		|| $(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked

fuzz-smoke: fuzz-setup
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

fuzz: fuzz-setup
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		mkdir -p corpus/$$t && \
		cargo fuzz run -s none $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 2>&1 \
			| grep -E '^(Done|stat::number_of_executed_units|==|thread|assertion|  left|  right)|crash-' ; \
		test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done

bench: plugins
	$(CARGO) bench --workspace
