# adaptloop: the two commands that matter are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
STREAM := var/venv/stream/bin/python
MODEL := var/venv/model/bin/python
export ADAPTLOOP_REPO := $(CURDIR)

.PHONY: help setup model test test-unit test-integration test-e2e demo up down status bench lint schemas lock clean compose-env images

help:
	@echo "make demo   - set up and run the continuous-adaptation scenario"
	@echo "make test   - set up and run the whole test suite"
	@echo "make up / make down / make status - the local stack in the background"
	@echo "make bench  - run every benchmark (bench/results/*.json)"

setup:
	@bash deploy/scripts/setup.sh

model: setup
	@$(MODEL) -m adaptloop_scenarios.tiny_model --out var/models/tiny-llama

schemas: setup
	@$(STREAM) -m adaptloop_contracts.schemas docs/schemas

test: setup model
	@bash deploy/scripts/test.sh

test-unit: setup
	@bash deploy/scripts/test.sh unit

demo: setup model
	@$(STREAM) -m adaptloop_cli.main demo $(DEMO_ARGS)

up: setup model
	@$(STREAM) -m adaptloop_devstack.stack up

compose-env:
	@bash deploy/scripts/containers.sh env .env

images:
	@bash deploy/scripts/containers.sh build cpu

down:
	@if [ -x $(STREAM) ]; then $(STREAM) -m adaptloop_devstack.stack down; fi

status:
	@$(STREAM) -m adaptloop_devstack.stack status

bench: setup model
	@bash bench/run.sh

lint: setup
	@var/venv/stream/bin/ruff check libs services tests bench

lock:
	@echo "Resolve in fresh environments, then: pip freeze > deploy/requirements/<env>.lock (see docs/environments.md)"

clean: down
	rm -rf var
