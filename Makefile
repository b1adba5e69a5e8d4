# Two commands set everything up on a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1 chromium chromium-driver

.PHONY: demo serve test bench setup system-packages

demo: setup
	$(PY) -m xmodal.fit

# After `make demo`: index the demo's cars with its export (once), then serve the page and the API on 127.0.0.1:8080.
DEMO_EXPORT ?= saved_models/small-hd
DEMO_INDEX ?= saved_models/small-hd-index
serve: setup
	test -f $(DEMO_INDEX)/index.json || $(PY) -m xmodal.index build --model $(DEMO_EXPORT) --builtin --out $(DEMO_INDEX)
	$(PY) -m xmodal.serve --index $(DEMO_INDEX) --model $(DEMO_EXPORT)

test: setup
	$(PY) -m pytest -q --durations=15 tests

bench: setup
	$(PY) bench/convert.py
	$(PY) bench/train.py
	$(PY) bench/embed.py
	$(PY) bench/augment.py
	$(PY) bench/index.py
	$(PY) bench/serve.py

setup: system-packages $(VENV)/.installed

system-packages:
	@sh scripts/apt_packages.sh $(APT_PACKAGES)

$(VENV)/.installed: setup.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@
