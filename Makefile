# Two commands on a fresh machine: `make up`, then `make test`. Everything runs from .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv pgbouncer up down status test unit quick integration bench side-by-side profile lint demo docs docs-serve clean load ui verify chaos chaos-topology soak fuzz compare wheelhouse docker-base

# `make load SHAPE=burst USERS=40 SPAWN_RATE=20 DURATION=60 WORKERS=2`: each is also a HARNESS_* variable.
LOAD_ENV = $(if $(SHAPE),HARNESS_SHAPE=$(SHAPE)) $(if $(USERS),HARNESS_USERS=$(USERS)) \
           $(if $(SPAWN_RATE),HARNESS_SPAWN_RATE=$(SPAWN_RATE)) $(if $(DURATION),HARNESS_DURATION_S=$(DURATION)) \
           $(if $(WORKERS),HARNESS_WORKERS=$(WORKERS)) $(if $(VARIANTS),HARNESS_VARIANTS=$(VARIANTS))

# The AWS SDK for JavaScript v3 that Lambda's Node.js runtimes provide, from the npm registry, as locked.
NODE_SDK := harness/localstack_extensions/lambda_executor/nodejs

venv: $(STAMP) $(NODE_SDK)/node_modules/.package-lock.json pgbouncer

# RDS Proxy's pooler (HARNESS_BACKEND_PROXY=rds-proxy): Debian's pgbouncer, not on PyPI. Installed where apt is
# available and this is root; otherwise named, and the proxy's start says what to do.
pgbouncer:
	@command -v pgbouncer >/dev/null 2>&1 || test -x /usr/sbin/pgbouncer || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing pgbouncer (Debian) for HARNESS_BACKEND_PROXY=rds-proxy ..."; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer) >/dev/null 2>&1 \
	      || echo "could not install pgbouncer with apt-get: HARNESS_BACKEND_PROXY=rds-proxy will say so"; \
	  else echo "pgbouncer not found: HARNESS_BACKEND_PROXY=rds-proxy needs it (apt-get install pgbouncer)"; fi; }

$(NODE_SDK)/node_modules/.package-lock.json: $(NODE_SDK)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  echo "installing the AWS SDK for JavaScript v3 for Node.js functions (npm ci) ..."; \
	  cd $(NODE_SDK) && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: Node.js functions will lack the provided AWS SDK (install Node.js 20+ with npm)"; fi

# Re-runs only when the project or its lock file changes; otherwise a no-op.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	@# Bytecode now, so LocalStack's threads never compile our modules concurrently (CPython 3.11.7 can
	@# fail that with "AST constructor recursion depth mismatch").
	$(BIN)/python -m compileall -q harness functions
	@touch $(STAMP)

# HARNESS_STACK=docker: the Docker image's wheels and base image first (each a no-op once there).
up: venv $(if $(filter docker,$(HARNESS_STACK)),wheelhouse docker-base)
	$(BIN)/harness up

down: venv
	$(BIN)/harness down

status: venv
	@$(BIN)/harness status

# Where a Docker engine answers, the Compose tests run: their image's wheels and base come first.
DOCKER_PREREQUISITES = $(if $(shell docker info >/dev/null 2>&1 && echo yes),wheelhouse docker-base)

test: venv wheelhouse $(DOCKER_PREREQUISITES)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The tiers (markers in pyproject.toml): `make unit` needs nothing running; `make quick` adds the integration
# tests against a LocalStack of their own but leaves out the slow ones and those that need Docker or a registry.
unit: venv
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

quick: venv
	$(BIN)/python -m pytest -m "not slow and not docker and not registry" $(PYTEST_ARGS)

integration: venv wheelhouse $(DOCKER_PREREQUISITES)
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

bench: venv
	$(BIN)/python -m harness.bench

profile: venv
	$(BIN)/python -m harness.bench.profile

# This code against MiniStack (installed from PyPI into the state folder), and other checkouts
# (`make side-by-side TREES=../base`), the stacks taking turns: reports/side-by-side.json.
side-by-side: venv
	$(if $(TREES),HARNESS_SIDE_TREES=$(TREES)) $(BIN)/python -m harness.bench.side_by_side

lint: venv
	$(BIN)/ruff check harness functions tests locustfiles setup.py
	$(BIN)/ruff format --check harness functions tests locustfiles setup.py

load: venv
	$(LOAD_ENV) $(BIN)/harness load

# The fault scenario, about SIZE accepted webhooks (default 2,000; `make chaos SIZE=10000` is the documented
# one): 30 paced users, steady, for SIZE / 40 seconds (the stage throttle below lets about 40 a second of
# their 60 through: each 429 sends its sender into a back-off); 10 % duplicates, 1 % poison, 1 % forged and 1 % replayed
# deliveries (Standard Webhooks signatures on), a 10 s backend outage and 1 % transient backend errors
# (injected in the backend itself), one crash mid-batch, SQS down for the publisher for 5 s, and a stage
# throttle of 50 requests/s that answers 429 to part of the load (the senders retry); then the poison is
# "fixed", the DLQ redriven and the run judged again. The faults fall at the same share of any SIZE; a small
# SIZE falls short of it, since the functions' warm-up and the SQS outage take the same seconds (SIZE=800: ~600).
SIZE ?= 2000
CHAOS_S = $(shell echo $$(( ($(SIZE) + 39) / 40 )))
CHAOS_TOPOLOGY = HARNESS_FAIL_PATH_MARKER=poison HARNESS_VISIBILITY_TIMEOUT_S=10 HARNESS_SUBSCRIBER_TIMEOUT_S=5 \
                 HARNESS_MAXIMUM_CONCURRENCY=2 HARNESS_BACKEND_LATENCY_MS=20 HARNESS_SIGNATURE_SCHEME=standard \
                 HARNESS_API_RATE_LIMIT=50 HARNESS_API_BURST_LIMIT=100
CHAOS_LOAD = HARNESS_SHAPE=steady HARNESS_USERS=30 HARNESS_DURATION_S=$(CHAOS_S) HARNESS_DUPLICATE_SHARE=0.1 \
             HARNESS_POISON_SHARE=0.01 HARNESS_FORGED_SHARE=0.01 HARNESS_REPLAY_SHARE=0.01 \
             HARNESS_THROTTLE_RETRIES=6 HARNESS_DRAIN_TIMEOUT_S=$${HARNESS_DRAIN_TIMEOUT_S:-900} \
             HARNESS_FAULT_OUTAGE_AFTER_S=$$(( $(CHAOS_S) * 30 / 100 )) HARNESS_FAULT_OUTAGE_DURATION_S=10 \
             HARNESS_FAULT_ERROR_RATE=0.01 HARNESS_FAULT_CRASH_AFTER_S=$$(( $(CHAOS_S) * 35 / 100 )) \
             HARNESS_FAULT_QUEUE_OUTAGE_AFTER_S=$$(( $(CHAOS_S) * 65 / 100 )) HARNESS_FAULT_QUEUE_OUTAGE_DURATION_S=5

# The soak: a steady load for DURATION (default 30 min) at a rate the default consumer keeps up with (5 senders,
# 10 webhooks/s); LocalStack's memory, threads and open files and the function processes sampled each second.
# The run fails when one of them grows without bound (a slope fitted over the soak, not one sample).
soak: venv
	HARNESS_SHAPE=soak HARNESS_USERS=$${HARNESS_USERS:-10} HARNESS_DURATION_S=$${HARNESS_DURATION_S:-30m} \
	  $(LOAD_ENV) $(BIN)/harness load

# On your own stack (deployed with --template): the same load and faults, without poison (that needs the
# harness's subscriber); the faults come from outside your functions' code.
chaos: venv
	@if $(BIN)/harness outputs --json 2>/dev/null | \
	   $(BIN)/python -c 'import json, sys; sys.exit(not json.load(sys.stdin).get("template"))'; then \
	  echo "chaos on your own stack: every fault but poison"; \
	  $(CHAOS_LOAD) HARNESS_POISON_SHARE=0 HARNESS_FORGED_SHARE=0 HARNESS_REPLAY_SHARE=0 $(BIN)/harness load; \
	else $(MAKE) --no-print-directory chaos-topology; fi

chaos-topology: venv
	@echo "chaos: about $(SIZE) webhooks over $(CHAOS_S) s, every fault; then the fix, the redrive and the verdict again"
	$(CHAOS_TOPOLOGY) $(BIN)/harness deploy
	$(CHAOS_TOPOLOGY) $(CHAOS_LOAD) $(BIN)/harness load
	$(CHAOS_TOPOLOGY) HARNESS_FAIL_PATH_MARKER= $(BIN)/harness deploy
	$(BIN)/harness redrive
	$(CHAOS_TOPOLOGY) HARNESS_FAIL_PATH_MARKER= $(BIN)/harness verify --poison-fixed
	$(BIN)/harness deploy

# The throttle comparison: each write holds the backend 200 ms (a loaded database), so a burst builds a
# backlog the throttle must hold back; a 30 s visibility timeout lets failed batches come back within the
# drain. Each default can be overridden on the command line (`make compare DURATION=60s VARIANTS=...`).
COMPARE_SCENARIO = HARNESS_BACKEND_LATENCY_MS=$${HARNESS_BACKEND_LATENCY_MS:-200} \
                   HARNESS_VISIBILITY_TIMEOUT_S=$${HARNESS_VISIBILITY_TIMEOUT_S:-30} \
                   HARNESS_SUBSCRIBER_TIMEOUT_S=$${HARNESS_SUBSCRIBER_TIMEOUT_S:-10} \
                   HARNESS_DURATION_S=$${HARNESS_DURATION_S:-30s} HARNESS_DRAIN_TIMEOUT_S=$${HARNESS_DRAIN_TIMEOUT_S:-90}

compare: venv
	$(COMPARE_SCENARIO) $(LOAD_ENV) $(BIN)/harness compare

# What the pattern is for, in about two minutes: the reference CDK stack's design (a PROVISIONED 5/5 table,
# reserved concurrency 2, batches of 10) against a burst, at reserved concurrency 1, 2 and with no throttle,
# from a new table's burst credit; a 30 s visibility timeout (the reference's is 300 s) so throttled writes
# come back within the run. Exit 1 (a throttled design failed) is the lesson, not an error of the demo.
DEMO_SCENARIO = HARNESS_TABLE_BILLING_MODE=$${HARNESS_TABLE_BILLING_MODE:-PROVISIONED} \
                HARNESS_TABLE_READ_CAPACITY=$${HARNESS_TABLE_READ_CAPACITY:-5} \
                HARNESS_TABLE_WRITE_CAPACITY=$${HARNESS_TABLE_WRITE_CAPACITY:-5} \
                HARNESS_BATCH_SIZE=$${HARNESS_BATCH_SIZE:-10} HARNESS_BURST_CREDIT=$${HARNESS_BURST_CREDIT:-new} \
                HARNESS_VISIBILITY_TIMEOUT_S=$${HARNESS_VISIBILITY_TIMEOUT_S:-30} \
                HARNESS_SUBSCRIBER_TIMEOUT_S=$${HARNESS_SUBSCRIBER_TIMEOUT_S:-10} \
                HARNESS_SHAPE=$${HARNESS_SHAPE:-burst} HARNESS_USERS=$${HARNESS_USERS:-10} \
                HARNESS_DURATION_S=$${HARNESS_DURATION_S:-15s} HARNESS_DRAIN_TIMEOUT_S=$${HARNESS_DRAIN_TIMEOUT_S:-90} \
                HARNESS_VARIANTS=$${HARNESS_VARIANTS:-reserved=1,reserved=2,none}

demo: venv
	@$(DEMO_SCENARIO) $(LOAD_ENV) $(BIN)/harness compare; status=$$?; test $$status -le 1

# Hypothesis-generated requests against the webhook of a test stack (bounded: HARNESS_FUZZ_EXAMPLES).
fuzz: venv
	HARNESS_FUZZ_RANDOM=1 HARNESS_FUZZ_EXAMPLES=$${HARNESS_FUZZ_EXAMPLES:-300} $(BIN)/python -m pytest tests/fuzz -q

verify: venv
	$(BIN)/harness verify

ui: venv
	$(LOAD_ENV) $(BIN)/harness ui

# The Docker image's dependencies, fetched by this machine's pip (which trusts the machine's certificate
# authority, as pip inside a build does not): the image installs them with --no-index. Redone when the
# lock file changes.
WHEELHOUSE := docker/wheelhouse
wheelhouse: $(WHEELHOUSE)/.complete

$(WHEELHOUSE)/.complete: pyproject.toml constraints.txt | venv
	rm -f $(WHEELHOUSE)/*.whl
	$(BIN)/python -m pip wheel --quiet --disable-pip-version-check -c constraints.txt -w $(WHEELHOUSE) . setuptools
	rm -f $(WHEELHOUSE)/harness-*.whl
	@touch $@

# python:3.11-slim, built from Debian's packages where no registry serves it (docker/base/build).
docker-base:
	docker/base/build

# The documentation site (MkDocs with Material): built strict, so a broken link or a page missing from the
# navigation fails; the configuration page is written from the settings' declarations first.
docs: venv
	$(BIN)/harness config --docs docs/configuration.md
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet
	@echo "site: file://$(CURDIR)/site/index.html"

docs-serve: venv
	$(BIN)/harness config --docs docs/configuration.md
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8000

clean: down
	rm -rf .harness site
