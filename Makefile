# The two commands of the README.  Each creates .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

## run: every implemented suite against the embedded reference servers; reports in postel-report/
run: $(STAMP)
	$(BIN)/postel run --report-dir postel-report

## test: the harness's own tests (codecs, plugin, gate, faulty servers, catalogs)
test: $(STAMP)
	$(BIN)/python -m pytest -n auto tests

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/time_bench.py
	$(BIN)/python benchmarks/http_bench.py
	$(BIN)/python benchmarks/mail_bench.py

clean:
	rm -rf $(VENV) postel-report build *.egg-info
