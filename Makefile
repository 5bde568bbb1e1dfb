# Two commands on a fresh machine with Python 3.11, Node.js and npm:
#   make demo   set up .venv and node_modules, then run the main job on the embedded default
#   make test   same set-up, then the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: demo test setup clean results

setup: $(STAMP) $(NODE_STAMP)

# torch 2.13.0 (CPU build) first: an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,plots,device]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --silent --no-audit --no-fund
	touch $@

demo: setup
	$(BIN)/wzcodec demo

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# the committed sweeps of the three reference scenarios (docs/results/, a few minutes each)
results: setup
	for S in A B C; do $(BIN)/wzcodec sweep --scenario $$S --rates 1-6 --seeds 0 -o docs/results/$$S; done

clean:
	rm -rf $(VENV) node_modules build *.egg-info
