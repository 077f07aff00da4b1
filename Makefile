# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck pytest bench load crash fuzz clean

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
	$(PY) -m bench.load

## load: the issuer under uvicorn (4 workers) driven by wrk for 60 s per endpoint (skipped without wrk)
load: $(STAMP)
	$(PY) -m bench.load

## crash: the long crash-safety profile: 40 SIGKILLs per test, SQLite and PostgreSQL (160 in all)
crash: $(STAMP)
	CREDENCIAL_CRASH_ROUNDS=40 $(PY) -m pytest -q -rP tests/issuer/test_crash.py

## fuzz: the long profiles (100,000 inputs per parser, 10,000 differential canonicalization
## cases) and the whole tamper sweeps; prints inputs, crashes and VALID-on-mutated per parser,
## with one "dup-key: ..." row per JSON parser (repeated member names, issue 18; must stay 0 VALID).
## About an hour on 2 idle cores (API bodies alone ~15 min); CREDENCIAL_FUZZ_API_SHARE=0.1 shortens it.
fuzz: $(STAMP)
	CREDENCIAL_DIFFERENTIAL_EXAMPLES=10000 CREDENCIAL_FUZZ_EXAMPLES=100000 \
	CREDENCIAL_TAMPER_SAMPLE=1 CREDENCIAL_FUZZ_API_SHARE=1 \
		$(PY) -m pytest -q tests/verifier/test_fastcanon.py tests/verifier/test_card.py \
		tests/verifier/test_cardfast.py \
		tests/verifier/test_hostile_json.py tests/verifier/test_fast_paths.py tests/fuzz

## desk-screenshot: the browser tests of the front-desk page; refreshes docs/img/desk-valid.png
.PHONY: desk-screenshot
desk-screenshot: $(STAMP)
	CREDENCIAL_UPDATE_SCREENSHOTS=1 $(PY) -m pytest -q tests/desk/test_desk_browser.py

## wallet-screenshot: the browser tests of the phone wallet; refreshes docs/img/wallet-*.png
.PHONY: wallet-screenshot
wallet-screenshot: $(STAMP)
	CREDENCIAL_UPDATE_SCREENSHOTS=1 $(PY) -m pytest -q tests/wallet_spec/test_web_wallet.py

clean:
	rm -rf $(VENV) demo var/demo build *.egg-info .mypy_cache .pytest_cache .ruff_cache .hypothesis
