# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest bench fuzz clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,test]'
	touch $(STAMP)

## run: the issuer API on 127.0.0.1:8000 with a demo database, keys and API keys under var/demo/
run: $(STAMP)
	$(VENV)/bin/credencial-issuer serve --demo

## test: lint, type check and the whole test suite
test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP)
	$(PY) -m pytest -q

## bench: benchmarks, printed as ratios against references measured in the same run
bench: $(STAMP)
	$(PY) -m bench

## fuzz: the long profiles: 10,000 differential canonicalization cases, 20,000 card fuzz inputs
fuzz: $(STAMP)
	CREDENCIAL_DIFFERENTIAL_EXAMPLES=10000 CREDENCIAL_FUZZ_EXAMPLES=20000 \
		$(PY) -m pytest -q tests/verifier/test_fastcanon.py tests/verifier/test_card.py \
		tests/verifier/test_hostile_json.py tests/verifier/test_fast_paths.py

clean:
	rm -rf $(VENV) demo var/demo build *.egg-info .mypy_cache .pytest_cache .ruff_cache .hypothesis
