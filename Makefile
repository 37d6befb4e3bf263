# Two commands on a fresh clone:  `make demo` (train -> export -> infer)  and  `make test`.
# Each builds its own virtual environment in .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench mutation clean

$(STAMP): pyproject.toml requirements/torch.txt requirements/uv.txt tools/uv_install.py
	$(PYTHON) -m venv $(VENV)
	@# uv installs what pip would, with pip's configuration (tools/uv_install.py; figures in
	@# docs/testing.md). Byte-compiled at install: processes started with
	@# PYTHONDONTWRITEBYTECODE would otherwise compile torch again each time. torch first and
	@# pinned (CPU build from local disk), then the project with every extra; the constraint
	@# keeps the extras' torch range from pulling any other build.
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/uv.txt
	$(BIN)/python tools/uv_install.py --compile-bytecode -r requirements/torch.txt
	$(BIN)/python tools/uv_install.py --compile-bytecode -c requirements/torch.txt -e '.[export,plot,serve,grpc,dask,executorch,litert,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hp-train
	$(BIN)/hp-export --format all
	$(BIN)/hp-infer examples/house.json

test: $(STAMP)
	sh tools/system-packages.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	$(BIN)/hp-bench

# Mutation testing of the runtime core (minutes; not part of `make test`): docs/mutation.md.
mutation: $(STAMP)
	$(BIN)/python -m tools.mutation.run $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) artifacts .pytest_cache .ruff_cache .hypothesis
