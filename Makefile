# Two commands set everything up on a fresh machine:
#   make run    virtualenv + install, train the default models if no champion exists, serve on 127.0.0.1:8000
#   make test   virtualenv + install, run the test suite
VENV ?= .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test install train-defaults serve ui

$(INSTALLED): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	# The pinned CPU wheel first: a looser torch requirement would pull a multi-GB CUDA build.
	$(PYTHON) -m pip install --quiet torch==2.13.0
	$(PYTHON) -m pip install --quiet -e ".[dev]"
	touch $@

install: $(INSTALLED)

train-defaults: install
	$(PYTHON) -m training train-defaults

serve: install
	$(PYTHON) -m serving

run: train-defaults serve

test: install
	$(PYTHON) -m pytest

ui: install
	$(PYTHON) -m training ui
