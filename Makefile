# bytetrans: `make lab` opens the course, `make test` verifies it.
# Both create .venv on first use and install the project with its [dev] extra into it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
NBVAL  := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: lab explore test test-browser bench bench-torch torch export check-export readme execute demo train train-everyday train-everyday-torch exercises progress metadata clean help

help:
	@echo "make lab        open the course in JupyterLab (creates .venv on first use)"
	@echo "make test       ruff, the tests and every notebook under nbval (as CI does)"
	@echo "make explore    the attention explorer as a web page (Voila), on the shipped model; MODEL=x.npz adds one"
	@echo "make test-browser  the attention explorer in Chromium: JupyterLab, Notebook 7 and the app (CI runs it too)"
	@echo "make export     regenerate bytetrans_lib/ from the notebooks' #| export cells"
	@echo "make exercises  regenerate the exercise edition, exercises/, from notebooks/ (never over your work)"
	@echo "make progress   run your exercise notebooks and print which exercises are done, wrong or not started"
	@echo "make metadata   give notebooks/ nbgrader's cell metadata (solution cells, check cells as grade cells)"
	@echo "make execute    re-run every notebook top to bottom in a fresh kernel, in place"
	@echo "make demo       the untrained model's shape table and greedy decode (notebook 05)"
	@echo "make train      train the course's model on the embedded corpus (8-10 min on 2 cores),"
	@echo "                writing data/bytetrans-en-fr.npz and its report (notebook 08)"
	@echo "make train-everyday DATA=fra-eng.zip   train the everyday model on real Tatoeba pairs,"
	@echo "                writing data/bytetrans-everyday.npz and its report (notebook 08, section 4)"
	@echo "make torch      install PyTorch's CPU build into .venv, for notebook 11 (the course up to 10 never needs it)"
	@echo "make train-everyday-torch DATA=fra-eng.zip   the everyday model trained with PyTorch and dropout"
	@echo "                (notebook 11, section 6), writing data/bytetrans-everyday-torch.npz and its report"
	@echo "make readme     rewrite the README's figures of the shipped models from their reports (after training)"
	@echo "make bench      time a training step (and PyTorch's, if installed) and decoding: benchmarks/README.md"
	@echo "make bench-torch  a training step in NumPy, in PyTorch and in two PyTorch processes (needs make torch)"
	@echo "make clean      remove .venv"

# Re-installs when pyproject.toml changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 10) else f"bytetrans needs Python >= 3.10; {sys.executable} is {v.major}.{v.minor}. Try: make PYTHON=python3.12 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# Jupyter refuses to run as root without --allow-root (containers often run as root).
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=. $(if $(filter 0,$(shell id -u)),--allow-root)

# ruff first: a lint or format slip fails in seconds, before the minute of tests
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest tests notebooks --ignore=tests/browser $(NBVAL)

# Debian's Chromium (apt, when we are root and it is missing) driven by Playwright's Python
# package (the [browser] extra); never a browser that Playwright downloads.
# BYTETRANS_CHROMIUM=/path/to/chromium uses another Chromium. Without Chromium the test skips,
# saying why.
test-browser: $(STAMP)
	@$(BIN)/python -c "import playwright, voila, notebook" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,browser]'
	@test -x "$${BYTETRANS_CHROMIUM:-/usr/bin/chromium}" || { test "$$(id -u)" = 0 && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "Chromium is not installed and could not be: the browser test will be skipped"
	$(BIN)/python -m pytest tests/browser -v -rs

# The attention explorer as a web app: Voila (the [app] extra, installed on first use) serves
# apps/explorer.ipynb on a free loopback port. MODEL=path.npz offers another checkpoint too.
explore: $(STAMP)
	@$(BIN)/python -c "import voila" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,app]'
	$(BIN)/python -m bytetrans_lib.app $(if $(MODEL),"$(MODEL)")

export: $(STAMP)
	$(BIN)/python -m bytetrans_lib.exporter

check-export: $(STAMP)
	$(BIN)/python -m bytetrans_lib.exporter --check

# The README's tables of the shipped runs come from their reports (tools/readme_figures.py).
readme: $(STAMP)
	$(BIN)/python tools/readme_figures.py

# The exercise edition: notebooks/ with each solution replaced by a stub (bytetrans_lib/exercises/).
exercises: $(STAMP)
	$(BIN)/python -m bytetrans_lib.exercises.edition make

progress: $(STAMP)
	$(BIN)/python -m bytetrans_lib.exercises.edition progress

# nbgrader's cell metadata on the solved notebooks (bytetrans_lib/exercises/nbgrading.py): each solution
# cell an answer, each check cell a locked grade cell of one point (README: For instructors)
metadata: $(STAMP)
	$(BIN)/python -m bytetrans_lib.exercises.edition metadata

# After editing a notebook: execute it from a fresh kernel so its committed outputs are
# exactly what a learner (and nbval) will see. NB=notebooks/01_bytes.ipynb runs just one.
NB ?= notebooks/*.ipynb
execute: $(STAMP)
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.kernel_name=python3 --ExecutePreprocessor.record_timing=False $(NB)
	@# one stream output per cell, however the kernel happened to flush it
	$(BIN)/jupyter nbconvert --to notebook --inplace --log-level=WARN \
		--CoalesceStreamsPreprocessor.enabled=True $(NB)

demo: $(STAMP)
	$(BIN)/python -m bytetrans_lib.diagnostics

train: $(STAMP)
	$(BIN)/python -m bytetrans_lib.train --out data/bytetrans-en-fr.npz

# The everyday model (notebook 08, section 4) from manythings.org's Tatoeba download, cleaned on the
# way: DATA is fra-eng.zip as downloaded, its fra.txt, or a folder holding either.
train-everyday: $(STAMP)
	@test -n "$(DATA)" || { echo "make train-everyday DATA=path/to/fra-eng.zip (download it from https://www.manythings.org/anki/; a fra.txt or a folder holding one also works)"; exit 2; }
	$(BIN)/python -m bytetrans_lib.train --preset everyday --clean --data "$(DATA)" --out data/bytetrans-everyday.npz --no-record-attention

# PyTorch for notebook 11: its CPU build first (from PyPI pip would pick the CUDA build on Linux, GBs),
# then the [torch] extra. TORCH_PIP="torch==2.13.0" installs another build, e.g. one pip can already reach.
TORCH_PIP ?= torch --index-url https://download.pytorch.org/whl/cpu
torch: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH_PIP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,torch]'

# Notebook 11, section 6: the everyday preset with dropout 0.1 and 16,000 steps, trained by PyTorch and
# scored by the NumPy course, written with its report to data/bytetrans-everyday-torch.* (the third
# shipped model)
train-everyday-torch: $(STAMP)
	@test -n "$(DATA)" || { echo "make train-everyday-torch DATA=path/to/fra-eng.zip (as make train-everyday)"; exit 2; }
	@$(BIN)/python -c "import torch" 2>/dev/null || { echo "PyTorch is not installed: run make torch first"; exit 2; }
	$(BIN)/python -m bytetrans_lib.torch_bridge --preset everyday --dropout 0.1 --steps 16000 --clean --data "$(DATA)" --out data/bytetrans-everyday-torch.npz

bench-torch: $(STAMP)
	@$(BIN)/python -c "import torch" 2>/dev/null || { echo "PyTorch is not installed: run make torch first"; exit 2; }
	$(BIN)/python benchmarks/torch_steps.py --json benchmarks/last-torch.json

# The [bench] extra (threadpoolctl) only reports which BLAS NumPy uses; the comparison with PyTorch
# runs where `make torch` has installed it (notebooks 01-10 never need it).
bench: $(STAMP)
	@$(BIN)/python -c "import threadpoolctl" 2>/dev/null || \
		$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	$(BIN)/python benchmarks/train_step.py --json benchmarks/last-run.json
	$(BIN)/python benchmarks/decode.py --json benchmarks/last-decode.json

clean:
	rm -rf $(VENV)
