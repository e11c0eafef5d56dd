# `make run` sets everything up and starts the app; `make test` sets everything up and runs the tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup test-setup run test browser benchmark clean

setup: $(VENV)/.installed

# Two steps: `make run` installs what the app needs; `make test` adds the test tools (pytest,
# Playwright, ruff) and the optional Ray extra (requirements-ray.txt), so that the tests of
# `--engine ray` run on a local Ray instance for every developer and in CI.
$(VENV)/.installed: requirements.txt pyproject.toml packaging/dlib-shim/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $@

test-setup: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-ray.txt
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt -r requirements-ray.txt
	$(BIN)/python -m pip check
	touch $@

run: setup
	$(BIN)/mesonet weights fetch || echo "Some weights could not be downloaded: the app shows which are missing."
	$(BIN)/streamlit run streamlit_app.py

test: test-setup browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

# The browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Every benchmark, in its short form where it has one (minutes on the 2-core machine).
benchmark: test-setup browser
	$(BIN)/python benchmarks/bench_scoring.py
	$(BIN)/python benchmarks/bench_pipeline.py --quick
	$(BIN)/python benchmarks/bench_annotate.py --quick
	$(BIN)/python benchmarks/bench_evaluate.py
	$(BIN)/python benchmarks/bench_engines.py --quick
	$(BIN)/python benchmarks/bench_app.py
	$(BIN)/python benchmarks/bench_live.py --quick
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/train_meso4.py --mode finetune

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
