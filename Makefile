# The two commands of the README: `make demo` and `make test`.
# Both install what they need into a project-local virtual environment (.venv) and keep
# AiiDA's configuration in the project (.aiida for the demo, a temporary one for the tests).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AIIDA_PATH := $(CURDIR)/.aiida
export PATH := $(CURDIR)/$(BIN):$(PATH)
# TensorFlow: no GPU probing noise, and leave one core to AiiDA on small machines
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: install demo test test-fast lint docs bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[pacemaker,tests,plot,docs,pre-commit]'
	# tensorpotential's declared requirements pull a CUDA TensorFlow: install it alone
	$(BIN)/pip install --quiet --no-deps tensorpotential==0.6.2.1
	# pandas 3 beside the environment's pandas 2, for the tests of pickles between the two
	$(BIN)/pip install --quiet --no-deps --upgrade --target $(VENV)/pandas3 'pandas>=3,<4'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python docs/examples/demo.py

# the service tiers install what they need (PostgreSQL, RabbitMQ, SLURM, sshd, CP2K, GPAW) and fail
# loudly when they cannot; AIIDA_PACEMAKER_{SERVICES,CLUSTER,DFT}=optional skips a tier instead
# (a plain `pytest` skips the tiers it cannot run; `make test` requires them: tests/tiers.py)
AIIDA_PACEMAKER_SERVICES ?= required
AIIDA_PACEMAKER_CLUSTER ?= required
AIIDA_PACEMAKER_DFT ?= required
export AIIDA_PACEMAKER_SERVICES AIIDA_PACEMAKER_CLUSTER AIIDA_PACEMAKER_DFT
test: $(STAMP)
	bash tests/services/install.sh install || [ "$$AIIDA_PACEMAKER_SERVICES" = optional ]
	bash tests/cluster/install.sh install || [ "$$AIIDA_PACEMAKER_CLUSTER" = optional ]
	bash tests/dft/install.sh install || [ "$$AIIDA_PACEMAKER_DFT" = optional ]
	$(BIN)/pytest -q -p no:cacheprovider -rs

test-fast: $(STAMP)
	$(BIN)/pytest -q -m 'not pacemaker and not services and not cluster and not dft'

# The services tier: the active-learning WorkChain through `submit` and a real daemon, on SQLite with
# aiida's ZeroMQ broker and on PostgreSQL with RabbitMQ (missing servers are installed with apt; the
# tests start them on free ports and stop them). AIIDA_PACEMAKER_SERVICES=optional: skip, not fail,
# where a server cannot be had.
.PHONY: services cluster dft
services: $(STAMP)
	bash tests/services/install.sh install || [ "$$AIIDA_PACEMAKER_SERVICES" = optional ]
	$(BIN)/pytest -q -p no:cacheprovider -rs tests/services

# The cluster tier: train, activeset, explore and two active-learning cycles through a one-node SLURM
# cluster on this machine over SSH (core.ssh + core.slurm).
cluster: $(STAMP)
	bash tests/cluster/install.sh install || [ "$$AIIDA_PACEMAKER_CLUSTER" = optional ]
	$(BIN)/pytest -q -p no:cacheprovider -rs tests/cluster

# The DFT tier: CP2K through aiida-cp2k and GPAW through the ASE labeller.
dft: $(STAMP)
	bash tests/dft/install.sh install || [ "$$AIIDA_PACEMAKER_DFT" = optional ]
	$(BIN)/pytest -q -p no:cacheprovider -rs tests/dft

lint: $(STAMP)
	$(BIN)/pre-commit run --all-files

docs: $(STAMP)
	$(BIN)/sphinx-build -W -b html docs docs/_build/html

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .aiida docs/_build demo_output
