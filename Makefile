# Two commands on a fresh machine:
#   make demo   set up, then run the bundled example model on the GL backend (headless EGL)
#   make test   set up, then run the whole test suite (what .ci/run does)
# Setup = system packages (EGL + Mesa for headless GL, Xvfb for the GLFW window test) when missing,
# a virtual environment in .venv, and this package installed in it with its dev and ray extras (the
# Ray tests, tests/test_distributed.py, are part of the suite).

VENV ?= .venv
PY := $(VENV)/bin/python
SYSTEM_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri xvfb

.PHONY: setup system-deps test demo bench clean

system-deps:
	@if ! command -v Xvfb >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep -q 'libEGL_mesa'; then \
		echo "installing $(SYSTEM_PACKAGES)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	fi

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev,ray]'
	touch $@

setup: system-deps $(VENV)/.installed

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

demo: setup
	$(VENV)/bin/gpu-backend demo

bench: setup
	mkdir -p bench/results
	$(PY) -m pytest bench/test_bench_core.py -q --benchmark-json=bench/results/core.json
	$(PY) -m pytest bench/test_bench_models.py -q --benchmark-json=bench/results/models.json
	$(PY) bench/report.py bench/results/core.json
	$(PY) bench/report.py bench/results/models.json

clean:
	rm -rf $(VENV) build *.egg-info
