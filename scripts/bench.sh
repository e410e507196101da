#!/usr/bin/env bash
# make bench: builds the release bootstrap (host arch) and bot-bench, then runs the function
# through a local Lambda Runtime API against the sandbox and moto_server, and prints a Markdown
# table of medians (also written to target/bench.md). Extra arguments go to bot-bench
# (--cold-reps N, --warm-reps N, --arm64 PATH, --out FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
# Separately, as make test does: built together, the two would share features and the bootstrap
# would not be the one the Lambda package builds.
cargo build --quiet --release -p alpaca-lambda-bot --bin bootstrap
cargo build --quiet --release -p bot-sandbox --bin bot-bench
mkdir -p target
exec "$target/release/bot-bench" \
  --bootstrap "$target/release/bootstrap" \
  --arm64 target/lambda/bootstrap/bootstrap \
  --out target/bench.md \
  --log "$target/bench-bootstrap.log" \
  "$@"
