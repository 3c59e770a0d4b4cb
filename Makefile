# faqbot: `make run` to talk to the bot, `make test` to check everything. Both set up from scratch.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FAQBOT := $(BIN)/faqbot
SAMPLE := knowledge_base/samples/helpdesk.jsonl
# The ONNX export is written last by `faqbot models bootstrap`: its presence means all is built.
BASE_MODEL := models/base/multilingual-e5-small/model.onnx.json
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test setup setup-dev lint bench mutation clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: this exact version is the CPU build; anything else pulls CUDA.
	$(BIN)/pip install --quiet torch==2.13.0

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

.env:
	cp .env.example .env

$(BASE_MODEL): | $(VENV)/.installed
	$(FAQBOT) models bootstrap

setup: $(VENV)/.installed .env $(BASE_MODEL)

setup-dev: $(VENV)/.installed-dev $(BASE_MODEL)

run: setup
	$(FAQBOT) import --if-empty $(SAMPLE)
	$(FAQBOT) run --chat-fallback

lint: setup-dev
	$(BIN)/ruff check bot knowledge_base migrations tests scripts
	$(BIN)/mypy
	# The import contracts of ../shared/design.md (pyproject.toml, [tool.importlinter]).
	$(BIN)/lint-imports

# Two workers (this project's machines have two cores), each test file kept on one worker and
# the files that use the PyTorch models all on the same one (tests/conftest.py).
test: lint
	$(BIN)/python -m pytest -n 2

bench: setup
	$(BIN)/python scripts/bench.py

# Mutation testing of the modules that hold the promises (scripts/mutation.py): long (the three
# bot/runtime modules alone took 70 min with one worker on 2 cores), so not part of `make test`.
mutation: setup-dev
	$(BIN)/python scripts/mutation.py

clean:
	rm -rf $(VENV) build *.egg-info
