#!/usr/bin/env bash
# Drives a running `ner serve` with wrk at concurrency 1, 16 and 64 on a realistic payload mix
# (single sentences and paragraphs), and prints requests/s, tokens/s, p50/p99 latency, the
# server's peak RSS and its start-up time to ready. Loopback only; every run is bounded.
#
#   scripts/bench-server.sh [--model DIR] [--duration SECONDS] [--threads N] [--backend native|torch]
# (without --backend: the server's default, native)
# NER_BIN=PATH measures another build of `ner` (for before/after tables).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODEL=$ROOT/models/en-conll03
DURATION=10
THREADS=2
BACKEND=
while (($#)); do
  case $1 in
    --backend) BACKEND=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
if ! command -v wrk >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
  else
    echo "wrk is needed (apt-get install wrk)" >&2; exit 1
  fi
fi
NER=${NER_BIN:-$ROOT/target/release/ner}
WORK=$(mktemp -d)
# shellcheck source=lib/background-server.sh
source "$ROOT/scripts/lib/background-server.sh"
T0=$(date +%s.%N)
start_server --model "$MODEL" ${BACKEND:+--backend "$BACKEND"} --threads "$THREADS"
T1=$(date +%s.%N)
STARTUP=$(python3 -c "print(f'{($T1 - $T0) * 1000:.0f}')")

# The payloads: news sentences and paragraphs; their token counts come from the server itself.
python3 - "$WORK" "$PORT" <<'PY'
import json, sys, urllib.request
work, port = sys.argv[1], sys.argv[2]
sentences = [
    "The European Commission said on Thursday it disagreed with German advice to consumers.",
    "Angela Merkel met Emmanuel Macron in Paris on Monday, Reuters reported.",
    "Shares of Siemens rose 3 percent in Frankfurt after the company raised its forecast.",
    "Brazil beat Argentina 2-1 in the World Cup qualifier in Buenos Aires.",
    "Microsoft and OpenAI signed a new agreement in Redmond, Washington.",
    "Japanese Prime Minister Fumio Kishida visited Washington last week.",
]
paragraph = " ".join(sentences[:5]) + " Analysts at Goldman Sachs in London expect the European Central Bank to hold rates."
one = "Angela Merkel met Emmanuel Macron in Paris on Monday, Reuters reported today ."
def tokens(text):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/ner", json.dumps({"text": text, "tokens": True}).encode(), {"content-type": "application/json"})
    return len(json.load(urllib.request.urlopen(req))["tokens"])
mix = sentences * 3 + [paragraph] * 2
counts = [tokens(t) for t in mix]
n15 = tokens(one)
def lua(bodies, path):
    with open(path, "w") as f:
        f.write("local bodies = {\n")
        for b in bodies:
            f.write("  " + json.dumps(json.dumps({"text": b})) + ",\n")
        f.write("}\nlocal i = 0\nrequest = function()\n  i = i % #bodies + 1\n")
        f.write('  return wrk.format("POST", "/ner", {["Content-Type"] = "application/json"}, bodies[i])\nend\n')
lua(mix, f"{work}/mix.lua")
lua([one], f"{work}/one.lua")
json.dump({"mix_tokens": sum(counts) / len(counts), "one_tokens": n15}, open(f"{work}/tokens.json", "w"))
PY

run() { # name script concurrency
  local t=$(( $3 < 2 ? 1 : 2 ))
  wrk -t"$t" -c"$3" -d"${DURATION}s" --latency -s "$WORK/$2" "http://127.0.0.1:$PORT/ner" >"$WORK/$1.txt"
}
run one15_c1 one.lua 1
run mix_c1 mix.lua 1
run mix_c16 mix.lua 16
# CPU time by thread name (utime + stime, clock ticks) around the c=64 run: what share of the
# server's CPU the model threads take.
cpu_by_thread() {
  for t in /proc/"$PID"/task/*; do
    awk '{ sub(/^[0-9]+ \(/, ""); split($0, a, ") "); name=a[1]; n=split(a[2], f, " "); print name, f[12] + f[13] }' "$t/stat" 2>/dev/null
  done
}
cpu_by_thread >"$WORK/cpu_before.txt"
run mix_c64 mix.lua 64
cpu_by_thread >"$WORK/cpu_after.txt"
RSS=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
kill -TERM $PID
wait $PID || true
python3 - "$WORK" "$STARTUP" "$RSS" "$DURATION" <<'PY'
import json, re, sys
work, startup, rss = sys.argv[1], sys.argv[2], int(sys.argv[3])
toks = json.load(open(f"{work}/tokens.json"))
def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
print(f"{'run':28} {'req/s':>9} {'tokens/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
for name, label, per in [("one15_c1", "15-token sentence, c=1", toks["one_tokens"]), ("mix_c1", "mix, c=1", toks["mix_tokens"]),
                         ("mix_c16", "mix, c=16", toks["mix_tokens"]), ("mix_c64", "mix, c=64", toks["mix_tokens"])]:
    t = open(f"{work}/{name}.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s)", t)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", t)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    sock = re.search(r"Socket errors: (.*)", t)
    print(f"{label:28} {rps:9.0f} {rps * per:10.0f} {ms(*p50.groups()):8.2f} {ms(*p99.groups()):8.2f} {(errs.group(1) if errs else '0'):>7}"
          + (f"  socket errors: {sock.group(1)}" if sock else ""))
print(f"tokens per request: mix {toks['mix_tokens']:.1f}, sentence {toks['one_tokens']}")
def ticks(path):
    out = {}
    for line in open(path):
        name, _, n = line.rpartition(" ")
        out[name] = out.get(name, 0) + int(n)
    return out
before, after = ticks(f"{work}/cpu_before.txt"), ticks(f"{work}/cpu_after.txt")
used = {k: v - before.get(k, 0) for k, v in after.items()}
total = sum(used.values())
if total:
    model = sum(v for k, v in used.items() if k.startswith("ner-model"))
    print(f"mix, c=64: the model threads took {100 * model / total:.0f}% of the server's CPU ({total / 100 / float(sys.argv[4]):.2f} cores busy)")
    top = sorted(used.items(), key=lambda kv: -kv[1])[:5]
    print("  by thread name: " + ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in top))
print(f"peak RSS {rss / 1024:.0f} MiB; start-up to ready {startup} ms")
PY
