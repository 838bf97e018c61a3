# The README's two commands: `make demo` and `make test`. Each sets up .venv itself from a bare Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup lint test test-fast demo lab notebooks sample-data benchmarks clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "engagement_lab needs Python >= 3.11"'
	@echo "setup 1/3: creating .venv with $(PYTHON) (first run only)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setup 2/3: upgrading pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "setup 3/3: installing engagement_lab with its notebook and dev extras (a few minutes the first time)"
	@$(BIN)/python -m pip install --quiet -e '.[dev,notebook]'
	@touch $(STAMP)

setup: $(STAMP)

lint: setup
	$(BIN)/ruff check engagement_lab tests benchmarks
	$(BIN)/ruff format --check engagement_lab tests benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest
	$(BIN)/python -m pytest --nbval notebooks --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider -q

test-fast: setup
	$(BIN)/python -m pytest -x -q -m 'not slow'

demo: setup
	$(BIN)/engagement-lab demo

lab: setup
	$(BIN)/jupyter lab notebooks

notebooks: setup
	$(BIN)/python tools/build_notebooks.py
	cd notebooks && for nb in 0*.ipynb; do ../$(BIN)/jupyter nbconvert --to notebook --execute --inplace $$nb || exit 1; done
	cd notebooks && ../$(BIN)/papermill ../engagement_lab/report_template.ipynb report.ipynb --cwd . -k python3 --no-progress-bar

sample-data: setup
	$(BIN)/engagement-lab sample-data --out data/sample

benchmarks: setup
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
