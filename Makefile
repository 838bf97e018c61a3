# The README's two commands: `make demo` and `make test`. Each sets up .venv itself from a bare Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup uv lock lint style typecheck test suite test-fast mutation demo demo-v2 lab notebooks sample-data benchmarks calibrate clean

$(STAMP): pyproject.toml constraints.txt overrides.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "engagement_lab needs Python >= 3.11"'
	@echo "setup 1/3: creating .venv with $(PYTHON) (first run only)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "setup 2/3: installing uv, the fast installer (pip installs instead if uv cannot be had)"
	@$(MAKE) --no-print-directory uv || echo "  no uv: pip will install (a few minutes)"
	@echo "setup 3/3: installing engagement_lab with its notebook, dev and dask extras, pinned by constraints.txt"
	@if test -x $(BIN)/uv && $(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -c constraints.txt \
		--override overrides.txt -e '.[dev,notebook,dask]'; \
	then :; else echo "  installing with pip instead" && $(BIN)/python -m ensurepip --upgrade >/dev/null && \
	$(BIN)/python -m pip install --upgrade pip && \
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev,notebook,dask]'; fi
	@$(BIN)/python -m compileall -q engagement_lab
	@touch $(STAMP)

setup: $(STAMP)

# uv in .venv (a venv made without pip, e.g. by `uv venv`, gets pip first)
uv:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || { $(BIN)/python -m ensurepip --upgrade >/dev/null && \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check uv; }

# constraints.txt pins every package a fresh install gets (uv's resolver, for Python 3.11); run after changing the
# dependencies in pyproject.toml, then commit both. It needs only uv, not the install the old pins would refuse.
lock: uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra notebook --extra dask --python-version 3.11 \
		--quiet -o constraints.txt

lint: style typecheck

style: setup
	$(BIN)/ruff check engagement_lab tests benchmarks tools notebooks/*.py
	$(BIN)/ruff format --check engagement_lab tests benchmarks tools notebooks/*.py

typecheck: setup
	$(BIN)/mypy

# Curated notebooks keep static charts (no 900 kB Vega bundle in git); a notebook of your own draws them live.
CHARTS := ENGAGEMENT_LAB_CHARTS=static

# Two workers, one test file each at a time (module fixtures are built once), each library held to one thread so
# the two share the machine's cores instead of fighting over them (a test's time stays what it is alone).
WORKERS := -n 2 --dist loadfile
ONE_THREAD := POLARS_MAX_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

# One session for the tests and the curated notebooks (nbval): one collection and start-up, and the notebooks fill
# the workers' gaps. Static charts suit both: every test of the interactive renderer sets its mode itself.
# The package is compiled to bytecode first (as setup compiles the installed packages: --compile-bytecode), since
# with PYTHONDONTWRITEBYTECODE set every kernel and subprocess would compile it again. mypy (37 s from a clean
# clone) runs beside the tests, in the time their workers spend waiting on kernels, servers and clocks.
test: style
	@$(BIN)/python -m compileall -q engagement_lab
	@$(MAKE) --no-print-directory -j2 typecheck suite

suite: setup
	$(CHARTS) $(ONE_THREAD) $(BIN)/python -m pytest $(WORKERS) tests engagement_lab notebooks --nbval \
		--nbval-sanitize-with notebooks/sanitize.cfg --ignore=engagement_lab/report/template.ipynb \
		--ignore-glob='notebooks/*.py' --ignore-glob='notebooks/templates/*.py'

test-fast: setup
	$(BIN)/python -m pytest -x -q -m 'not slow'

# Mutation score of the modules in tools/mutation.py's TARGETS (not part of make test: it runs for tens of minutes).
mutation: setup
	$(ONE_THREAD) $(BIN)/python tools/mutation.py

demo: setup
	$(BIN)/engagement-lab demo

# the same analysis through the sandbox's X API v2 post analytics routes
demo-v2: setup
	$(BIN)/engagement-lab demo --api x-v2

lab: setup
	$(BIN)/jupyter lab notebooks

# The percent-format .py files are the sources: each is written to its paired .ipynb and executed there.
notebooks: setup
	$(BIN)/jupytext --quiet --to ipynb -o engagement_lab/report/template.ipynb notebooks/templates/report_template.py
	cd notebooks && for nb in 0*.py; do $(CHARTS) ../$(BIN)/jupytext --quiet --to ipynb --execute $$nb || exit 1; done
	cd notebooks && $(CHARTS) ../$(BIN)/papermill ../engagement_lab/report/template.ipynb report.ipynb --cwd . -k python3 --no-progress-bar

sample-data: setup
	$(BIN)/engagement-lab sample-data --out data/sample

benchmarks: setup
	for b in benchmarks/*.py; do $(BIN)/python $$b || exit 1; done

# every comparison method's false alarms and coverage on worlds shaped like real accounts (the README's table)
calibrate: setup
	$(BIN)/python benchmarks/calibration.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
