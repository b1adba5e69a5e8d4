# Two commands set everything up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1

.PHONY: demo test bench setup system-packages

demo: setup
	$(PY) -m xmodal.fit

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) bench/convert.py
	$(PY) bench/train.py
	$(PY) bench/embed.py
	$(PY) bench/augment.py

setup: system-packages $(VENV)/.installed

system-packages:
	@sh scripts/apt_packages.sh $(APT_PACKAGES)

$(VENV)/.installed: setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@
