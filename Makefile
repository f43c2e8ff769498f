# Set-up, build, export, tests and demo for the Go style-transfer runner.
# `make demo` and `make test` work on a fresh clone: every target sets up
# what it needs (a project-local venv with the pinned TensorFlow wheel, whose
# C library the Go bindings link against).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The exactly pinned wheel TensorFlow (and its C library) comes from. On GPU
# hosts: make setup TF_WHEEL='tensorflow[and-cuda]==2.21.0'
TF_WHEEL ?= tensorflow-cpu==2.21.0
REQUIREMENTS := export/requirements.txt
# One stamp per wheel, so switching TF_WHEEL re-installs.
STAMP := $(VENV)/.setup-$(shell printf '%s' '$(TF_WHEEL)' | tr -c 'A-Za-z0-9.=-' '_')
TFLIB := $(VENV)/tflib

# TensorFlow's folder inside the venv; evaluated lazily, once the venv exists.
TF_DIR = $(shell $(PY) -c 'import os, importlib.util as u; print(os.path.dirname(u.find_spec("tensorflow").origin))' 2>/dev/null)
# cgo: headers from the wheel; -ltensorflow resolves to libtensorflow_cc.so.2
# through the symlink in $(TFLIB); the framework library is named explicitly
# (TF_NewStatus, TF_AllocateTensor live there); the rpath points at the
# wheel's own folder so bin/runner starts with no LD_LIBRARY_PATH.
CGO_ENV = CGO_ENABLED=1 CGO_CFLAGS="-I$(TF_DIR)/include" \
	CGO_LDFLAGS="-L$(abspath $(TFLIB)) -ltensorflow -l:libtensorflow_framework.so.2 -Wl,-rpath,$(TF_DIR)"

MODEL := models/vgg19-random
GO_SOURCES := $(shell find cmd graphs runner configs -name '*.go' -o -name '*.yaml' 2>/dev/null) go.mod go.sum

.PHONY: setup build export models $(RANDOM_MODELS) image test test-go test-py demo bench bench-large bench-go bench-levers check-tf clean docs

setup: $(STAMP) bin/runner

# The venv is rebuilt only when the pins change; a finished set-up takes seconds.
$(STAMP): $(REQUIREMENTS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# tensorflow and tensorflow-cpu both provide the module: keep only the one asked for
	@$(PY) -m pip uninstall --quiet --yes $(if $(filter tensorflow-cpu%,$(TF_WHEEL)),tensorflow,tensorflow-cpu) >/dev/null 2>&1 || true
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS) '$(TF_WHEEL)'
	@rm -f $(VENV)/.setup-*
	@$(MAKE) --no-print-directory check-tf
	@touch $@

# Verify the facts the build rests on, in the installed wheel itself.
check-tf:
	@set -e; d="$(TF_DIR)"; test -n "$$d" || { echo "check-tf: TensorFlow is not installed in $(VENV)" >&2; exit 1; }; \
	for h in c/c_api.h c/eager/c_api.h; do test -f "$$d/include/tensorflow/$$h" || { echo "check-tf: wheel lacks include/tensorflow/$$h" >&2; exit 1; }; done; \
	for s in TF_NewGraph TF_LoadSessionFromSavedModel TFE_NewContext TF_SessionRun; do \
	  nm -D --defined-only "$$d/libtensorflow_cc.so.2" | grep -q " $$s@" || { echo "check-tf: libtensorflow_cc.so.2 does not export $$s" >&2; exit 1; }; done; \
	for s in TF_NewStatus TF_AllocateTensor; do \
	  nm -D --defined-only "$$d/libtensorflow_framework.so.2" | grep -q " $$s" || { echo "check-tf: libtensorflow_framework.so.2 does not export $$s" >&2; exit 1; }; done; \
	mkdir -p $(TFLIB); ln -sf "$$d/libtensorflow_cc.so.2" $(TFLIB)/libtensorflow.so; \
	ln -sf "$$d/libtensorflow_framework.so.2" $(TFLIB)/libtensorflow_framework.so.2; \
	echo "check-tf: TensorFlow $$($(PY) -c 'import tensorflow as tf; print(tf.__version__)' 2>/dev/null) C API and headers found in $$d"

build: bin/runner

# `runner -version` prints the module version and git revision go build records in a git
# checkout (not in a git worktree: Go looks for a .git folder); -buildvcs=auto overrides a
# GOFLAGS=-buildvcs=false.
BUILDVCS := -buildvcs=auto

# bin/runner is a launcher free of TensorFlow that execs bin/runner-tf (see
# cmd/runner): TensorFlow's library prints notices while it loads, before
# main, and the launcher keeps them off the user's stderr.
bin/runner: bin/runner-tf $(GO_SOURCES)
	CGO_ENABLED=0 go build $(BUILDVCS) -o $@ ./cmd/runner

bin/runner-tf: $(STAMP) $(GO_SOURCES)
	$(CGO_ENV) go build $(BUILDVCS) -o $@ ./cmd/runner-tf

# The offline default model: full-width VGG19, random He-normal weights, seed 0,
# re-exported when the exporter changes (the runner refuses an older format).
# Real weights: make export WEIGHTS=imagenet (Keras downloads them: needs a
# network) or WEIGHTS=path/to/vgg19_..._notop.h5 (or a Keras .weights.h5, .keras) or
# imagenet-vgg-verydeep-19.mat;
# ARCH=vgg16 and POOLING=max as the export flags. The model lands in
# models/<arch>-<weights name> (models/vgg19-random, models/vgg19-imagenet, ...).
WEIGHTS ?= random
ARCH ?= vgg19
POOLING ?= avg
EXPORT_MODEL := models/$(ARCH)-$(basename $(notdir $(WEIGHTS)))$(if $(filter max,$(POOLING)),-max)
EXPORT_SOURCES := $(wildcard export/*.py)

export: $(STAMP)
	@if [ "$(EXPORT_MODEL)" = "$(MODEL)" ]; then $(MAKE) --no-print-directory $(MODEL)/saved_model.pb; \
	else $(PY) -m export --out $(EXPORT_MODEL) --weights $(WEIGHTS) --arch $(ARCH) --pooling $(POOLING) --force; fi

$(MODEL)/saved_model.pb: $(STAMP) $(EXPORT_SOURCES)
	$(PY) -m export --out $(MODEL) --weights random --seed 0 --pooling avg --force

# Every model the shipped configs name (configs/; runner's TestShippedModels checks the
# list): full width, random He-normal weights, seed 0. `make models` makes them all;
# `make models/vgg19-random-max` (any models/<vgg19|vgg16>-random[-max]) makes one, and
# the runner's "no such folder" error names that command.
MODELS := models/vgg19-random models/vgg19-random-max models/vgg16-random-max
RANDOM_MODELS := $(foreach a,vgg19 vgg16,$(foreach p,avg max,models/$(a)-random$(if $(filter max,$(p)),-max)))

models: $(MODELS)

$(filter-out $(MODEL),$(RANDOM_MODELS)): %: %/saved_model.pb

$(addsuffix /saved_model.pb,$(filter-out $(MODEL),$(RANDOM_MODELS))): models/%/saved_model.pb: $(STAMP) $(EXPORT_SOURCES)
	$(PY) -m export --out models/$* --arch $(firstword $(subst -, ,$*)) --weights random --seed 0 \
	  --pooling $(if $(filter %-max,$*),max,avg) --force

$(MODEL): $(MODEL)/saved_model.pb

# The image a sweep's k8s.image names (IMAGE; gostyle:latest as in seed-report-grid.yaml),
# from Debian packages and the pinned wheel only: a Debian minbase made by debootstrap (root, the
# Debian mirror; kept in .image/rootfs), bin/runner, TensorFlow's two C libraries from the
# venv's wheel, configs/, testdata/ (pictures, tiny models) and the models `make models`
# makes, put together by `buildah bud` from Containerfile (no RUN step: no container
# runtime needed to build). .ci/image-test.sh runs the tiny model in it (CI=true).
IMAGE ?= gostyle:latest
IMAGE_DIR := .image
# DEBIAN_MIRROR: a mirror URL for debootstrap; empty: debootstrap's default.
DEBIAN_MIRROR ?=
BUILDAH ?= buildah

image: bin/runner $(MODELS)
	@command -v $(BUILDAH) >/dev/null && command -v debootstrap >/dev/null || \
	  { echo "make image: needs buildah and debootstrap (as root: apt-get install buildah debootstrap)" >&2; exit 1; }
	@mkdir -p $(IMAGE_DIR); test -x $(IMAGE_DIR)/rootfs/bin/sh || { rm -rf $(IMAGE_DIR)/rootfs && \
	  debootstrap --variant=minbase bookworm $(IMAGE_DIR)/rootfs $(DEBIAN_MIRROR) >$(IMAGE_DIR)/debootstrap.log 2>&1 || \
	  { echo "make image: debootstrap failed, see $(IMAGE_DIR)/debootstrap.log" >&2; exit 1; }; }
	rm -rf $(IMAGE_DIR)/context && mkdir -p $(IMAGE_DIR)/context/app/bin $(IMAGE_DIR)/context/app/lib $(IMAGE_DIR)/context/app/models
	tar -C $(IMAGE_DIR)/rootfs -cf $(IMAGE_DIR)/context/rootfs.tar .
	cp bin/runner bin/runner-tf $(IMAGE_DIR)/context/app/bin/
	cp "$(TF_DIR)/libtensorflow_cc.so.2" "$(TF_DIR)/libtensorflow_framework.so.2" $(IMAGE_DIR)/context/app/lib/
	cp -r configs testdata $(IMAGE_DIR)/context/app/
	cp -r $(MODELS) $(IMAGE_DIR)/context/app/models/
	$(BUILDAH) bud --isolation chroot -f Containerfile -t $(IMAGE) $(IMAGE_DIR)/context
	rm -rf $(IMAGE_DIR)/context
	@echo "make image: built $(IMAGE)"

demo: bin/runner $(MODEL)/saved_model.pb
	./bin/runner -config quick.yaml -overwrite
	@echo "demo pictures: results/quick/ (final.png, styled_*.png, metrics.csv)"

test: test-go test-py

test-go: $(STAMP)
	$(CGO_ENV) go vet ./...
	@# -timeout: a loaded host can take a package past go test's default 10 minutes.
	$(CGO_ENV) STYLE_PYTHON=$(abspath $(PY)) go test -count=1 -timeout 30m ./...
	@# A short fuzz run of each FuzzLoad (pictures; configs with overrides) on top
	@# of their seed corpora, which the plain run above already replays. Budgets
	@# are counts, not durations: Go before 1.27 can fail a duration budget with a
	@# bare "context deadline exceeded" when a loaded host delays a worker at the
	@# deadline (golang/go#75804); a count has no deadline to race.
	$(CGO_ENV) go test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime 60000x ./runner/picture/
	$(CGO_ENV) go test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime 15000x ./runner/config/

test-py: $(STAMP)
	$(PY) -m pytest -q export/tests

# The Go runner against the Python peer (export/bench/), A B A B at 256x256, 512x512 and
# 600x800: a table on stdout and .bench/results.json. Under 20 minutes on 2 cores; quick
# runs: make bench BENCH_SIZES=256x256 BENCH_ITERS=5. See README "Performance".
bench: bin/runner
	$(PY) -m export.bench.bench

# Print-size pictures: peak RSS and s/iteration at 1, 4, 12 and 24 MP, untiled (where it
# fits), in exact tiles and the Python peer (to 4 MP): a table and .bench/large.json.
# Quick run: make bench-large BENCH_SIZES=864x1152 BENCH_MODES=untiled,tiled.
bench-large: bin/runner
	$(PY) -m export.bench.large

# Session options (threads, Grappler, bf16, XLA) timed on our exported graph; .bench/levers.json.
bench-levers: $(STAMP)
	$(PY) -m export.bench.levers

# The Go micro-benchmarks.
bench-go: $(STAMP)
	$(CGO_ENV) go test -run '^$$' -bench . -benchtime 20x ./...

# The README's config reference, from the key table (runner/config/keys.go);
# pure Go, no TensorFlow. A test in runner/config fails when it drifts.
docs:
	CGO_ENABLED=0 go run ./runner/config/internal/docgen README.md

clean:
	rm -rf bin results $(IMAGE_DIR)

# gpu-check exercises the GPU build path on any host: the CUDA wheel goes into
# its own venv (gigabytes, so not part of `make test`), the runner is built
# against it into bin-gpu/, and the tiny model runs with the default device
# (TensorFlow falls back to the CPU where there is no GPU). The CUDA
# libraries stay inside the nvidia-* wheels, found through the run paths
# TensorFlow's libraries carry relative to their own folder. With no GPU,
# TensorFlow logs one line that cuInit failed: that line is expected and
# reported; anything else on stderr fails the check.
GPU_VENV := .venv-gpu
GPU_PY := $(GPU_VENV)/bin/python
GPU_WHEEL ?= tensorflow[and-cuda]==2.21.0
GPU_STAMP := $(GPU_VENV)/.setup-$(shell printf '%s' '$(GPU_WHEEL)' | tr -c 'A-Za-z0-9.=-' '_')
GPU_TF_DIR = $(shell $(GPU_PY) -c 'import os, importlib.util as u; print(os.path.dirname(u.find_spec("tensorflow").origin))' 2>/dev/null)
GPU_CGO_ENV = CGO_ENABLED=1 CGO_CFLAGS="-I$(GPU_TF_DIR)/include" \
	CGO_LDFLAGS="-L$(abspath $(GPU_VENV)/tflib) -ltensorflow -l:libtensorflow_framework.so.2 -Wl,-rpath,$(GPU_TF_DIR)"

.PHONY: gpu-check
gpu-check: bin-gpu/runner
	@set -e; out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	echo "gpu-check: TensorFlow $$($(GPU_PY) -c 'import tensorflow as tf; print(tf.__version__)' 2>/dev/null), CUDA build: $$($(GPU_PY) -c 'import tensorflow as tf; print(tf.test.is_built_with_cuda())' 2>/dev/null)"; \
	echo "gpu-check: CUDA libraries TensorFlow loads from its run paths:"; \
	readelf -d "$(GPU_TF_DIR)/libtensorflow_framework.so.2" | grep -o 'R[UN]*PATH.*' | tr -d '[]' | tr ':' '\n' | grep -o '$$ORIGIN/.*nvidia.*' | sort -u | sed 's/^/  /' || true; \
	if nvidia-smi -L >/dev/null 2>&1; then gpu=1; echo "gpu-check: nvidia-smi sees: $$(nvidia-smi -L | head -1)"; else gpu=0; echo "gpu-check: no GPU visible (no working nvidia-smi): TensorFlow should fall back to the CPU"; fi; \
	echo "gpu-check: tiny model, default device"; \
	if ! ./bin-gpu/runner -config experiments/paper.yaml -set model=testdata/vgg19-tiny \
	    -set width=64 -set height=48 -set iterations=4 -set checkpoint_every=2 -out "$$out" \
	    >"$$out/stdout" 2>"$$out/stderr"; then \
	  echo "gpu-check: FAILED, stderr:" >&2; cat "$$out/stderr" >&2; exit 1; fi; \
	sed 's/^/  /' "$$out/stdout"; \
	if [ $$gpu = 0 ] && grep -q 'failed call to cuInit' "$$out/stderr"; then \
	  echo "gpu-check: TensorFlow noted (expected without a GPU): $$(grep -o 'failed call to cuInit.*' "$$out/stderr" | head -1)"; \
	  grep -v 'failed call to cuInit' "$$out/stderr" >"$$out/stderr.rest" || true; mv "$$out/stderr.rest" "$$out/stderr"; fi; \
	if [ -s "$$out/stderr" ]; then echo "gpu-check: FAILED: stderr not empty on success:" >&2; cat "$$out/stderr" >&2; exit 1; fi; \
	test -f "$$out/shipwreck_starry_night/final.png" || { echo "gpu-check: FAILED: no final.png" >&2; exit 1; }; \
	echo "gpu-check: device=gpu must fail in one clear line where no GPU is visible"; \
	code=0; ./bin-gpu/runner -config experiments/paper.yaml -set model=testdata/vgg19-tiny -set device=gpu \
	    -set width=64 -set height=48 -set iterations=1 -out "$$out/gpu" >/dev/null 2>"$$out/gpu.err" || code=$$?; \
	if grep -q 'unknown key.*device\|device.*unknown' "$$out/gpu.err"; then \
	  echo "gpu-check: skipped: this runner has no device setting yet ($$(cat "$$out/gpu.err"))"; \
	elif [ $$gpu = 1 ]; then \
	  echo "gpu-check: a GPU is visible: device=gpu exit $$code"; test $$code -eq 0; \
	else \
	  test $$code -ne 0 || { echo "gpu-check: FAILED: device=gpu succeeded with no GPU" >&2; exit 1; }; \
	  test $$(wc -l <"$$out/gpu.err") -eq 1 || { echo "gpu-check: FAILED: device=gpu error is not one line:" >&2; cat "$$out/gpu.err" >&2; exit 1; }; \
	  echo "  $$(cat "$$out/gpu.err")"; fi; \
	echo "gpu-check: ok"

$(GPU_STAMP): $(REQUIREMENTS)
	@test -x $(GPU_PY) || $(PYTHON) -m venv $(GPU_VENV)
	$(GPU_PY) -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS) '$(GPU_WHEEL)'
	@rm -f $(GPU_VENV)/.setup-*
	@$(MAKE) --no-print-directory check-tf VENV=$(GPU_VENV) PY=$(GPU_PY) TFLIB=$(GPU_VENV)/tflib
	@touch $@

bin-gpu/runner-tf: $(GPU_STAMP) $(GO_SOURCES)
	$(GPU_CGO_ENV) go build -o $@ ./cmd/runner-tf

bin-gpu/runner: bin-gpu/runner-tf $(GO_SOURCES)
	CGO_ENABLED=0 go build -o $@ ./cmd/runner
