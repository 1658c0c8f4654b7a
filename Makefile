# HAR Studio: `make run` opens the app, `make test` runs the checks.
# Both create (or reuse) a local virtual environment in $(VENV); nothing is installed by hand.
PYTHON ?= python3
VENV ?= .venv
# torch is installed first and pinned: 2.13.0 is a CPU build on the lab machines' disk.
# Override for another platform, e.g. `make TORCH_SPEC='torch==2.5.1' run`.
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev,export,cluster
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint venv bench clean package package-deps package-test default-model

venv: $(STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml Makefile | $(PY)
	$(PY) -m pip install --disable-pip-version-check -q "$(TORCH_SPEC)"
	$(PY) -m pip install --disable-pip-version-check -q -e ".[$(EXTRAS)]"
	touch $@

run: $(STAMP)
	$(PY) -m har_studio $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check har_studio tests bench
	$(VENV)/bin/lint-imports

test: lint
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/bench_load.py

# The model shipped in resources/models: the built-in preset (an ensemble of 3 of the default
# preset) trained on all development people.
SHARED_DATA ?= $(firstword $(wildcard ../shared/data/wisdm2019/phone/accel ../../shared/data/wisdm2019/phone/accel))
default-model: $(STAMP)
	$(PY) -m har_studio.training.default_model --data $(SHARED_DATA) --out resources/models/default.harmodel

clean:
	rm -rf build dist .pytest_cache .ruff_cache

# ---- Packaging: a double-clickable HARStudio built by PyInstaller from build.spec ----
PKG_STAMP := $(VENV)/.installed-package
XCB_LIBS := libxcb-icccm4 libxcb-keysyms1

$(PKG_STAMP): $(STAMP)
	$(PY) -m pip install --disable-pip-version-check -q -e ".[$(EXTRAS),package]"
	touch $@

# The xcb platform plugin needs these on the build machine so PyInstaller bundles them.
package-deps:
	@missing=""; for p in $(XCB_LIBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing$$missing for the Qt xcb plugin"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

package: $(PKG_STAMP) package-deps
	$(VENV)/bin/pyinstaller --noconfirm --log-level WARN build.spec

package-test: package
	$(PY) bench/package_check.py dist/HARStudio
