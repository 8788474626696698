#!/usr/bin/env bash
# A request-fuzzing campaign: starts `ner serve` on loopback with short body and header time
# limits and runs `ner-fuzz` against it: N generated requests, valid and invalid (malformed
# JSON, wrong types at every field, huge and negative numbers, deep nesting, duplicate keys,
# invalid UTF-8, every Unicode category, empty and separator-only texts, very long words, many
# sentences, wrong and missing content types, chunked and truncated bodies). Every answer is
# checked: never a 5xx, never a hang past the time limit, a JSON error on every 4xx, entity
# offsets that slice the text in the requested unit; the server must be alive at the end.
# Prints the statuses, failures and the server's RSS at the end.
#
#   scripts/fuzz-server.sh [--requests N] [--seed S] [--clients C] [--model DIR] [--backend B]
#
# scripts/test.sh runs a short seeded campaign; docs/reliability.md has a 1,000,000-request one.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REQUESTS=1000000
SEED=1
CLIENTS=8
MODEL=$ROOT/models/en-conll03
BACKEND=native
while (($#)); do
  case $1 in
    --requests) REQUESTS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --backend) BACKEND=$2; shift 2 ;;
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
NER=${NER_BIN:-$NER_SERVE_BIN}
FUZZ=$ROOT/target/release/ner-fuzz
[[ -x $FUZZ ]] || (cd "$ROOT" && cargo build --release --quiet -p ner-fuzz)
WORK=$(mktemp -d)
# shellcheck source=lib/background-server.sh
source "$ROOT/scripts/lib/background-server.sh"
start_server --model "$MODEL" --backend "$BACKEND" --threads 1 \
  --body-timeout-ms 1000 --header-timeout-ms 2000 --max-text-chars 50000
STATUS=0
"$FUZZ" --addr "127.0.0.1:$PORT" --requests "$REQUESTS" --seed "$SEED" --clients "$CLIENTS" \
  --timeout-ms 10000 || STATUS=$?
echo "server RSS at the end: $(($(awk '/VmRSS/ {print $2}' "/proc/$PID/status") / 1024)) MiB"
if grep -q '"level":"ERROR"' "$WORK/server.log"; then
  echo "the server logged errors:" >&2
  grep '"level":"ERROR"' "$WORK/server.log" | head -5 >&2
  STATUS=1
fi
exit "$STATUS"
