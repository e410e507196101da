# alpaca-lambda-bot: every command a user or CI runs. Targets install the tools they need
# (cargo-lambda, moto, cfn-lint, sam) into .venv from requirements-dev.txt when missing.

SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export AWS_DEFAULT_REGION ?= us-east-1
EVENT ?= events/manual-dry-run.json

.PHONY: venv build test lint fmt watch invoke deploy demo bench clean

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

## build: the arm64 Lambda bootstrap (release, vendored OpenSSL), and its size
build: venv
	cargo lambda build --release --arm64 --bin bootstrap   # features: Cargo.toml [package.metadata.lambda.build]
	@ls -l target/lambda/bootstrap/bootstrap | awk '{printf "bootstrap: %.1f MiB\n", $$5/1048576}'

## test: unit, integration (moto_server, local fakes) and end-to-end tests
test: venv
	# bootstrap first, built exactly as cargo lambda watch builds it (one package, no
	# dev-dependency features), so the end-to-end test does not wait for a rebuild.
	cargo build -p alpaca-lambda-bot --bin bootstrap
	BOT_SANDBOX_REQUIRE_MOTO=1 cargo test --workspace --all-targets

## lint: formatting, clippy, and both template checkers
lint: venv
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
	sam validate --lint --template-file template.yaml

fmt:
	cargo fmt --all

## watch / invoke: serve the function locally and call it with an events file (EVENT=...)
watch: venv
	cargo lambda watch -A 127.0.0.1

invoke: venv
	cargo lambda invoke -A 127.0.0.1 --data-file $(EVENT)

## deploy: sam build + sam deploy (guided on first use, when there is no samconfig.toml)
deploy: venv
	sam build
	if [ -f samconfig.toml ]; then sam deploy; else sam deploy --guided; fi

## demo: a full cycle story on this machine, no accounts needed (sandbox + moto + cargo lambda)
demo: venv
	./scripts/demo.sh

## bench: init, cold/warm durations, peak memory, arm64 package size and round trips of the
## release bootstrap, through a local Lambda Runtime API (table also in target/bench.md)
bench: venv
	./scripts/bench.sh

clean:
	cargo clean
	rm -rf .aws-sam
