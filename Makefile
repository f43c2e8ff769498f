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

.PHONY: setup build export test test-go test-py demo bench bench-go bench-levers check-tf clean

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

# bin/runner is a launcher free of TensorFlow that execs bin/runner-tf (see
# cmd/runner): TensorFlow's library prints notices while it loads, before
# main, and the launcher keeps them off the user's stderr.
bin/runner: bin/runner-tf $(GO_SOURCES)
	CGO_ENABLED=0 go build -o $@ ./cmd/runner

bin/runner-tf: $(STAMP) $(GO_SOURCES)
	$(CGO_ENV) go build -o $@ ./cmd/runner-tf

# The offline default model: full-width VGG19, random He-normal weights, seed 0.
export: $(MODEL)/saved_model.pb

$(MODEL)/saved_model.pb: $(STAMP)
	$(PY) -m export --out $(MODEL) --weights random --seed 0 --pooling avg --force

demo: bin/runner $(MODEL)/saved_model.pb
	./bin/runner -config quick.yaml
	@echo "demo pictures: results/quick/ (final.png, styled_*.png, metrics.csv)"

test: test-go test-py

test-go: $(STAMP)
	$(CGO_ENV) go vet ./...
	$(CGO_ENV) STYLE_PYTHON=$(abspath $(PY)) go test -count=1 ./...

test-py: $(STAMP)
	$(PY) -m pytest -q export/tests

# The Go runner against the Python peer (export/bench/), A B A B at 256x256, 512x512 and
# 600x800: a table on stdout and .bench/results.json. Under 20 minutes on 2 cores; quick
# runs: make bench BENCH_SIZES=256x256 BENCH_ITERS=5. See README "Performance".
bench: bin/runner
	$(PY) -m export.bench.bench

# Session options (threads, Grappler, bf16, XLA) timed on our exported graph; .bench/levers.json.
bench-levers: $(STAMP)
	$(PY) -m export.bench.levers

# The Go micro-benchmarks.
bench-go: $(STAMP)
	$(CGO_ENV) go test -run '^$$' -bench . -benchtime 20x ./...

clean:
	rm -rf bin results
