#!/usr/bin/env bash
# Hot reload under load: `ner serve` with the shipped English model and an admin key, 32
# clients (wrk) sending sentences for the whole run, and 20 reloads of the model through
# POST /admin/models/NAME, one after another. Prints the requests, non-2xx answers and socket
# errors (all must be 0), the latency percentiles over the run, the reload times, and the RSS
# before and after. Loopback only.
#
#   scripts/reload-under-load.sh [--reloads N] [--clients C] [--model DIR]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RELOADS=20
CLIENTS=32
MODEL=$ROOT/models/en-conll03
while (($#)); do
  case $1 in
    --reloads) RELOADS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
command -v wrk >/dev/null 2>&1 || { echo "wrk is needed (apt-get install wrk)" >&2; exit 1; }
command -v curl >/dev/null 2>&1 || { echo "curl is needed" >&2; exit 1; }
NER=${NER_BIN:-$NER_SERVE_BIN}
WORK=$(mktemp -d)
# shellcheck source=lib/background-server.sh
source "$ROOT/scripts/lib/background-server.sh"
start_server --model "$MODEL" --admin-key reload-test
NAME=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["name"])' "$MODEL/meta.json")
cat >"$WORK/req.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"text": "Angela Merkel met Emmanuel Macron in Paris on Monday, Reuters reported."}'
LUA
rss() { echo $(($(awk '/VmRSS/ {print $2}' "/proc/$PID/status") / 1024)); }
RSS_BEFORE=$(rss)
wrk -t2 -c"$CLIENTS" -d3600s --timeout 30s --latency -s "$WORK/req.lua" "http://127.0.0.1:$PORT/ner" >"$WORK/wrk.txt" &
WRK=$!
sleep 2
: >"$WORK/reloads.txt"
for i in $(seq "$RELOADS"); do
  curl -s -o "$WORK/reload.json" -w '%{http_code} %{time_total}\n' -X POST \
    -H 'Authorization: Bearer reload-test' "http://127.0.0.1:$PORT/admin/models/$NAME" >>"$WORK/reloads.txt"
done
sleep 2
kill -INT $WRK
wait $WRK || true
RSS_AFTER=$(rss)
python3 - "$WORK" "$RSS_BEFORE" "$RSS_AFTER" <<'PY'
import re, sys
work, before, after = sys.argv[1], sys.argv[2], sys.argv[3]
t = open(f"{work}/wrk.txt").read()
reqs = re.search(r"(\d+) requests in ([\d.]+)s", t)
errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
sock = re.search(r"Socket errors: (.*)", t)
lat = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", t, re.M))
reloads = [l.split() for l in open(f"{work}/reloads.txt")]
ok = sum(1 for c, _ in reloads if c == "200")
times = sorted(float(s) for _, s in reloads)
print(f"requests {reqs.group(1)} in {reqs.group(2)} s, non-2xx {errs.group(1) if errs else 0}, socket errors: {sock.group(1) if sock else 'none'}")
print(f"latency p50 {lat.get('50')}, p90 {lat.get('90')}, p99 {lat.get('99')}")
print(f"reloads: {ok} of {len(reloads)} answered 200; each took {times[0]:.2f}-{times[-1]:.2f} s")
print(f"RSS {before} MiB before, {after} MiB after")
PY
