#!/usr/bin/env bash
# make demo: the whole bot on this machine, no accounts needed. Starts the sandbox (Alpaca
# emulator + Discord capture), moto_server (Secrets Manager), serves the function with
# `cargo lambda watch`, and tells a short story with `cargo lambda invoke --data-file events/…`.
# Everything it starts is stopped on exit, Ctrl-C or failure.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${DEMO_INVOKE_PORT:-9310}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true; done
  sleep 0.5
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_for_file() { for _ in $(seq 1 300); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "timed out waiting for $1" >&2; exit 1; }
json_field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }

say "Building the function and the sandbox"
# Separately: built together, the two would share features and cargo lambda watch would rebuild.
cargo build --quiet -p alpaca-lambda-bot --bin bootstrap
cargo build --quiet -p bot-sandbox --bin bot-sandbox
sandbox=target/debug/bot-sandbox

setsid "$sandbox" moto --ready-file "$work/moto.json" >"$work/moto.log" 2>&1 &
pids+=($!)
setsid "$sandbox" serve --port 0 --ready-file "$work/sandbox.json" >"$work/sandbox.log" 2>&1 &
pids+=($!)
wait_for_file "$work/moto.json"
wait_for_file "$work/sandbox.json"
moto_url=$(json_field "$work/moto.json" endpoint_url)
base_url=$(json_field "$work/sandbox.json" base_url)
webhook_url=$(json_field "$work/sandbox.json" webhook_url)
ctl() { "$sandbox" ctl --url "$base_url" "$@"; }

"$sandbox" seed-secret --endpoint "$moto_url" --name alpaca-bot/demo \
  --secret-string "{\"api_key\":\"sandbox-key-id\",\"api_secret\":\"sandbox-secret-key\",\"discord_webhook_url\":\"$webhook_url\"}" >/dev/null
echo "Alpaca + Discord sandbox: $base_url   Secrets Manager (moto): $moto_url"

say "Serving the function with cargo lambda watch on 127.0.0.1:$PORT"
setsid cargo lambda watch -A 127.0.0.1 -P "$PORT" --ignore-changes \
  --env-var BOT_SECRET_ID=alpaca-bot/demo \
  --env-var APCA_API_BASE_URL="$base_url" --env-var APCA_API_DATA_URL="$base_url" \
  --env-var AWS_ENDPOINT_URL_SECRETS_MANAGER="$moto_url" --env-var AWS_REGION=us-east-1 \
  --env-var AWS_ACCESS_KEY_ID=sandbox --env-var AWS_SECRET_ACCESS_KEY=sandbox \
  --env-var MAX_EVENT_AGE_SECONDS=0 --env-var RUST_LOG=warn \
  >"$work/watch.log" 2>&1 &
pids+=($!)

invoke() {
  cargo lambda invoke bootstrap -A 127.0.0.1 -P "$PORT" --data-file "$1" 2>&1 || true
}
# The first invoke starts the function; wait until the runtime answers.
for _ in $(seq 1 120); do
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/" 2>/dev/null; then break; fi
  sleep 0.5
done

# show EXPECTED_STATUS POSTS_BEFORE OUTCOME: prints the outcome and the new Discord posts,
# and stops the demo if the outcome is not what the story expects.
show() {
  local expected=$1 before=$2 outcome=$3
  echo "-- outcome:"
  echo "$outcome" | python3 -c 'import json,sys
t = sys.stdin.read()
try:
    print(json.dumps(json.loads(t), indent=2))
except ValueError:
    print(t)'
  echo "-- what Discord shows:"
  ctl discord --render --since "$before"
  local status
  status=$(echo "$outcome" | python3 -c 'import json,sys
try:
    print(json.load(sys.stdin).get("status", ""))
except ValueError:
    print("")')
  if [ "$status" != "$expected" ]; then
    echo "demo: expected status '$expected', got '${status:-an error}'" >&2
    echo "--- function log:" >&2; tail -n 30 "$work/watch.log" >&2
    exit 1
  fi
}
posts() { ctl discord | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
orders() { ctl orders | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

say "1. Market closed: the cycle is skipped (events/eventbridge-rule.json)"
echo '{"market_open": false}' | ctl scenario - >/dev/null
n=$(posts); show skipped "$n" "$(invoke events/eventbridge-rule.json)"

say "2. Golden cross: the bot buys and waits for the fill (events/scheduler-input.json)"
"$sandbox" preset golden-cross | ctl scenario - >/dev/null
n=$(posts); show ordered "$n" "$(invoke events/scheduler-input.json)"

say "3. The same event delivered again: no second order"
n=$(posts); show skipped "$n" "$(invoke events/scheduler-input.json)"
count=$(orders)
echo "orders at Alpaca: $count"
[ "$count" = 1 ] || { echo "demo: expected exactly 1 order" >&2; exit 1; }

say "4. Death cross with the position held: the bot sells it (events/scheduler-default.json)"
"$sandbox" preset death-cross --position 1 | ctl scenario - >/dev/null
n=$(posts); show ordered "$n" "$(invoke events/scheduler-default.json)"

say "Done: every process stopped. Next: make test"
