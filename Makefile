# Everything starts from a bare Python 3.11: `make demo` and `make test` build .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-12)

.PHONY: help venv demo serve test lint lock clean

help:
	@echo "make demo   move the catalog, then the cart, to their services under live traffic, with a report"
	@echo "make test   lint, import contracts, the whole suite on SQLite, then on PostgreSQL if one answers"
	@echo "make serve  the demo, then keep everything running (router on :8080) until Ctrl-C"
	@echo "make lock   re-resolve requirements.lock from pyproject.toml"
	@echo "make clean  remove .venv and var/"

$(STAMP): requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	@rm -f $(VENV)/.installed-*
	@touch $@

venv: $(STAMP)

demo: venv
	$(BIN)/python scripts/demo.py

serve: venv
	$(BIN)/python scripts/demo.py --serve

test: venv
	scripts/test.sh

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

lock: venv
	$(BIN)/python -m pip install --quiet uv==0.13.9
	$(BIN)/uv pip compile pyproject.toml --all-extras --generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) var
