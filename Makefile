# The two commands: `make run` and `make test`. Both install what is missing first.
# BUILD_DIR and VENV may point outside the clone (CI does) so builds stay warm across runs.
BUILD_DIR ?= build
VENV ?= $(BUILD_DIR)/venv
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
export VENV

CMAKE_FLAGS := -G Ninja $(if $(shell command -v ccache),-DCMAKE_C_COMPILER_LAUNCHER=ccache)
BIN := $(BUILD_DIR)/bin
PY := $(VENV)/bin/python

.PHONY: all build deps run test unit asan asan-build integration integration-asan fuzz-build \
        fuzz-regress fuzz bench bench-http bench-spec bench-proxy bench-enclave bench-otel lint tidy \
        format clean

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# `make run` starts nitro-enc-svc in local mode on https://127.0.0.1:8443 and prints a curl line.
run: build
	@scripts/run-demo.sh $(BIN)

test: lint tidy unit asan integration integration-asan fuzz-regress

unit: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# The unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: asan-build
	@cd $(BUILD_DIR)/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

integration: build
	@NES_BIN=$(abspath $(BIN)) $(PY) -m pytest -q tests/integration

asan-build: deps
	@cmake -S . -B $(BUILD_DIR)/asan $(CMAKE_FLAGS) -DNES_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(BUILD_DIR)/asan -j $(JOBS)

# The integration suite once more, against the ASan + UBSan build of every program (a leak or
# an error makes the program exit non-zero, which the tests check).
integration-asan: asan-build
	@NES_BIN=$(abspath $(BUILD_DIR)/asan/bin) ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(PY) -m pytest -q tests/integration

fuzz-build: deps
	@cmake -S . -B $(BUILD_DIR)/fuzz $(CMAKE_FLAGS) -DNES_FUZZ=ON -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD_DIR)/fuzz -j $(JOBS)

# Every fuzz target over its seed corpus (a regression test: no crash, no leak).
fuzz-regress: fuzz-build
	@scripts/fuzz.sh $(BUILD_DIR)/fuzz/bin 0

# Coverage-guided exploration, FUZZ_SECONDS per target.
fuzz: fuzz-build
	@scripts/fuzz.sh $(BUILD_DIR)/fuzz/bin $(FUZZ_SECONDS)

bench: build
	@scripts/bench-core.sh $(BIN)

# nitro-enc-svc POST /encrypt against nginx over TLS with wrk (about 90 s; one table).
bench-http: build
	@python3 bench/http/bench.py $(abspath $(BIN))

# nitro-enc-svc with telemetry off and on (OTLP export of every span, log record, metrics).
.PHONY: bench-otel
bench-otel: build
	@python3 bench/http/otel.py $(abspath $(BIN))

# nitro-enc-proxy relaying TCP->TCP beside socat: bulk MB/s and 64-connection p50/p99 (one table).
bench-proxy: build
	@python3 bench/proxy/bench.py $(abspath $(BIN))

# nitro-enc-svc enclave mode: cold start to ready against moto (one table; a figure, not a test).
bench-enclave: build
	@$(PY) bench/enclave/bench.py $(abspath $(BIN))

lint: deps
	@scripts/lint.sh

# clang-tidy (.clang-tidy) over every src/**/*.c that the build compiles.
tidy: build
	@scripts/tidy.sh $(BUILD_DIR)

format: deps
	@git ls-files '*.c' '*.h' | xargs -r clang-format -i

# The enclave image (docs/operations.md): a reproducible rootfs tarball from a release build that
# may live outside the clone; the EIF and its PCRs where Docker's engine and nitro-cli exist.
ENCLAVE_BUILD_DIR ?= $(BUILD_DIR)/enclave
ENCLAVE_CONFIG ?= deploy/enclave/config.example.yaml
.PHONY: enclave-rootfs eif k8s-manifests
enclave-rootfs: deps
	@scripts/enclave-rootfs.sh $(ENCLAVE_BUILD_DIR) $(ENCLAVE_BUILD_DIR)/out

eif: enclave-rootfs
	@scripts/eif.sh $(ENCLAVE_BUILD_DIR)/out $(ENCLAVE_CONFIG)

# deploy/k8s/ is the Helm chart rendered with its defaults (a test checks they agree).
k8s-manifests:
	@scripts/k8s-manifests.sh

clean:
	rm -rf $(BUILD_DIR)

# Spec loading against spec size: seconds and peak RSS for 5k/20k/40k/100k component schemas.
bench-spec: build
	@python3 bench/spec/bench.py $(abspath $(BIN))

# docs/configuration.md from the programs' own tables of settings (--print-config-reference);
# tests/integration/test_config_reference.py fails when the checked-in file is stale.
.PHONY: docs
docs: build
	@scripts/config-reference.sh $(BIN) > docs/configuration.md.tmp
	@mv docs/configuration.md.tmp docs/configuration.md
