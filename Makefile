# Two commands set everything up on a fresh machine:
#   make run    virtualenv + install, train the default models if no champion exists, serve on 127.0.0.1:8000
#   make test   virtualenv + install, type-check, run the test suite
VENV ?= .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run test install system-packages train-defaults serve ui stack-up stack-down

$(INSTALLED): pyproject.toml
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	# The pinned CPU wheel first: a looser torch requirement would pull a multi-GB CUDA build.
	$(PYTHON) -m pip install --quiet torch==2.13.0
	$(PYTHON) -m pip install --quiet -e ".[dev,typecheck]"
	touch $@

install: $(INSTALLED)

# What pip cannot install: Java for the Spark scoring engine, PostgreSQL for the shared tracking stack.
system-packages:
	@command -v java >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; }
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq postgresql; }

train-defaults: install
	$(PYTHON) -m training train-defaults

serve: install
	$(PYTHON) -m serving

run: train-defaults serve

# The type check first ([tool.mypy] in pyproject.toml: about 50 s cold, a second with its cache), then the suite.
test: install system-packages
	$(PYTHON) -m mypy
	$(PYTHON) -m pytest

ui: install
	$(PYTHON) -m training ui

# The shared tracking stack on loopback: PostgreSQL + mlflow server (data in deploy/.data/).
stack-up: install system-packages
	$(PYTHON) -m deploy start

stack-down: install
	$(PYTHON) -m deploy stop
