#!/usr/bin/env bash
# A soak at saturation: `ner serve` under 8 clients that send texts of random length (1 to 3,000
# words, a new random text per request) for a fixed time, with the server's RSS sampled every
# 5 seconds. Prints the RSS per minute, the first- and last-quarter maxima, requests, tokens and
# errors. Loopback only; the run stops by itself. The figures are also written as a JSON result
# (machine, commit, date) by scripts/lib/result.py: to benchmarks/results/, or $NER_RESULTS_DIR.
#
#   scripts/soak-server.sh [--minutes N] [--backend native|torch] [--model DIR] [--clients N]
# NER_BIN=PATH measures another build of `ner`.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MINUTES=10
BACKEND=native
MODEL=$ROOT/models/en-conll03
CLIENTS=8
while (($#)); do
  case $1 in
    --minutes) MINUTES=$2; shift 2 ;;
    --backend) BACKEND=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
command -v wrk >/dev/null 2>&1 || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
NER=${NER_BIN:-$NER_SERVE_BIN}
WORK=$(mktemp -d)
# shellcheck source=lib/background-server.sh
source "$ROOT/scripts/lib/background-server.sh"
start_server --model "$MODEL" --backend "$BACKEND"
cat >"$WORK/random.lua" <<'LUA'
-- Every request a new text of 1 to 3,000 words drawn from a small news vocabulary.
local words = {"The", "European", "Commission", "said", "on", "Thursday", "it", "disagreed",
  "with", "German", "advice", "to", "consumers", "Angela", "Merkel", "met", "Emmanuel",
  "Macron", "in", "Paris", "Reuters", "reported", "Shares", "of", "Siemens", "rose", "3",
  "percent", "Frankfurt", "after", "the", "company", "raised", "its", "forecast", ".", ","}
math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 100000))
request = function()
  local n = math.random(1, 3000)
  local t = {}
  for i = 1, n do t[i] = words[math.random(#words)] end
  local body = '{"text": "' .. table.concat(t, " ") .. '"}'
  return wrk.format("POST", "/ner", {["Content-Type"] = "application/json"}, body)
end
LUA
SECONDS_TOTAL=$((MINUTES * 60))
wrk -t2 -c"$CLIENTS" -d"${SECONDS_TOTAL}s" --timeout 30s --latency -s "$WORK/random.lua" "http://127.0.0.1:$PORT/ner" >"$WORK/wrk.txt" &
WRK=$!
: >"$WORK/rss.txt"
T0=$(date +%s)
while kill -0 $WRK 2>/dev/null; do
  echo "$(($(date +%s) - T0)) $(awk '/VmRSS/ {print $2}' /proc/$PID/status)" >>"$WORK/rss.txt"
  sleep 5
done
wait $WRK || true
kill -TERM $PID
wait $PID || true
python3 - "$WORK" "$MINUTES" "$BACKEND" "$MODEL" "$CLIENTS" <<'PY'
import json, os, re, sys
work, minutes, backend, model, clients = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
rows = [tuple(map(int, l.split())) for l in open(f"{work}/rss.txt") if len(l.split()) == 2]
t = open(f"{work}/wrk.txt").read()
reqs = int(re.search(r"(\d+) requests in", t).group(1))
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: (.*)", t)
print(f"soak: {minutes} min, backend {backend}, {reqs} requests, non-2xx {errs.group(1) if errs else 0}"
      + (f", socket errors: {sock.group(1)}" if sock else ""))
print("minute  RSS MiB (max of the minute)")
per_minute = []
for m in range(minutes):
    v = [r for s, r in rows if m * 60 <= s < (m + 1) * 60]
    if v:
        per_minute.append(round(max(v) / 1024, 1))
        print(f"{m + 1:6d}  {max(v) / 1024:8.0f}")
total = max((s for s, _ in rows), default=0)
q = total / 4
first = max((r for s, r in rows if s <= q), default=0)
last = max((r for s, r in rows if s >= 3 * q), default=0)
print(f"first-quarter max {first / 1024:.0f} MiB, last-quarter max {last / 1024:.0f} MiB, ratio {last / max(first, 1):.3f}")
json.dump({"model": os.path.basename(model.rstrip("/")), "backend": backend, "minutes": minutes, "clients": clients,
           "requests": reqs, "non_2xx": int(errs.group(1)) if errs else 0, "socket_errors": sock.group(1) if sock else None,
           "rss_mib_per_minute": per_minute, "first_quarter_max_mib": round(first / 1024, 1),
           "last_quarter_max_mib": round(last / 1024, 1), "ratio": round(last / max(first, 1), 3)},
          open(f"{work}/figures.json", "w"))
PY
echo "result: $(python3 "$ROOT/scripts/lib/result.py" soak-server "$WORK/figures.json" --binary "$NER")"
