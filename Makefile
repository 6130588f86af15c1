PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install run test lint format bench image

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(BIN)/.installed

## make run: the service with demo data on http://127.0.0.1:8000/ (embedded defaults).
run: install
	bash scripts/run_local.sh

## make test: lint, then the whole suite against throwaway PostgreSQL and Redis servers.
test: install
	bash scripts/ensure_test_servers.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	# Two workers, one per core; a test module stays on one worker (its module fixtures start
	# servers once). Each worker starts its own PostgreSQL, Redis and Prometheus.
	$(BIN)/pytest -n 2 --dist loadfile

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make image: the container image (Dockerfile). Prints the command where no builder answers.
IMAGE ?= llm-control-plane:dev
image:
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
	  docker build -t $(IMAGE) . ; \
	else \
	  echo "No Docker daemon here. Build the image where one runs (or with buildah/podman):"; \
	  echo "  docker build -t $(IMAGE) ."; \
	fi
