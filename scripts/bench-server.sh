#!/usr/bin/env bash
# Drives `ner serve` with wrk at concurrency 1, 16 and 64 on a realistic payload mix (single
# sentences and paragraphs), and prints requests/s, tokens/s, p50/p99 latency, the model
# threads' share of the server's CPU, the server's peak RSS and its start-up time to ready.
# With --baseline, another build runs in the same invocation, alternating with this one round
# by round, and the medians and their ratios are the figures. Loopback only; every run is
# bounded. The figures are written as a JSON result (machine, commit, date) by
# scripts/lib/result.py: to benchmarks/results/, or $NER_RESULTS_DIR.
#
#   scripts/bench-server.sh [--model DIR] [--duration SECONDS] [--threads N] [--backend native|torch]
#                           [--baseline PATH] [--rounds N]
# (without --backend: the server's default, native). NER_BIN=PATH measures another build of
# `ner` than this checkout's; --baseline PATH is the build to compare it with.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODEL=$ROOT/models/en-conll03
DURATION=10
THREADS=2
BACKEND=
BASELINE=
ROUNDS=1
while (($#)); do
  case $1 in
    --backend) BACKEND=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -z $BASELINE || -x $BASELINE ]] || { echo "--baseline $BASELINE is not an executable ner" >&2; exit 2; }
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
if ! command -v wrk >/dev/null 2>&1; then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -qq wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
  else
    echo "wrk is needed (apt-get install wrk)" >&2; exit 1
  fi
fi
NER_SELF=${NER_BIN:-$NER_SERVE_BIN}
RUNS=$(mktemp -d)
trap 'rm -rf "$RUNS"' EXIT

# One measurement of one build: `once BIN OUT.json` (a subshell, so that each server and its
# folder are cleaned up by background-server.sh's own exit trap).
once() (
  NER=$1
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
  python3 - "$WORK" "$STARTUP" "$RSS" "$DURATION" "$2" <<'PY'
import json, re, sys
work, startup, rss, duration, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
toks = json.load(open(f"{work}/tokens.json"))
def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
runs = {}
for name, per in [("one15_c1", toks["one_tokens"]), ("mix_c1", toks["mix_tokens"]), ("mix_c16", toks["mix_tokens"]), ("mix_c64", toks["mix_tokens"])]:
    t = open(f"{work}/{name}.txt").read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
    sock = re.search(r"Socket errors: .*", t)
    runs[name] = {"requests_per_s": round(rps, 1), "tokens_per_s": round(rps * per),
                  "p50_ms": round(ms(*re.search(r"\s50%\s+([\d.]+)(us|ms|s)", t).groups()), 3),
                  "p99_ms": round(ms(*re.search(r"\s99%\s+([\d.]+)(us|ms|s)", t).groups()), 3),
                  "errors": int(errs.group(1)) if errs else 0, "socket_errors": sock.group(0) if sock else None}
def ticks(path):
    out = {}
    for line in open(path):
        name, _, n = line.rpartition(" ")
        out[name] = out.get(name, 0) + int(n)
    return out
before, after = ticks(f"{work}/cpu_before.txt"), ticks(f"{work}/cpu_after.txt")
used = {k: v - before.get(k, 0) for k, v in after.items()}
total = sum(used.values()) or 1
model = sum(v for k, v in used.items() if k.startswith("ner-model"))
json.dump({"runs": runs, "tokens_per_request": {"mix": toks["mix_tokens"], "sentence": toks["one_tokens"]},
           "model_threads_cpu_share_c64": round(model / total, 3), "cores_busy_c64": round(total / 100 / duration, 2),
           "peak_rss_mib": round(rss / 1024, 1), "startup_ms": round(startup)}, open(out, "w"))
PY
)

BUILDS=(this)
[[ -n $BASELINE ]] && BUILDS+=(baseline)
for ((r = 1; r <= ROUNDS; r++)); do
  ORDER=("${BUILDS[@]}")
  ((r % 2 == 0 && ${#BUILDS[@]} == 2)) && ORDER=(baseline this)
  for b in "${ORDER[@]}"; do
    BIN=$NER_SELF
    [[ $b == baseline ]] && BIN=$BASELINE
    echo "[bench] round $r/$ROUNDS: $b ($("$BIN" --version))" >&2
    once "$BIN" "$RUNS/$b-$r.json"
  done
done
python3 - "$RUNS" "$MODEL" "$DURATION" "$THREADS" "${BACKEND:-native}" "$NER_SELF" "$BASELINE" <<'PY'
import glob, json, os, statistics, subprocess, sys
runs_dir, model, duration, threads, backend, this, baseline = sys.argv[1:8]
def version(b):
    return subprocess.run([b, "--version"], capture_output=True, text=True).stdout.strip() if b else None
builds = {}
for name in ("this", "baseline"):
    rounds = [json.load(open(p)) for p in sorted(glob.glob(f"{runs_dir}/{name}-*.json"))]
    if not rounds:
        continue
    med = {run: {k: statistics.median(r["runs"][run][k] for r in rounds) for k in ("requests_per_s", "tokens_per_s", "p50_ms", "p99_ms")}
           for run in rounds[0]["runs"]}
    for k in ("model_threads_cpu_share_c64", "peak_rss_mib", "startup_ms"):
        med[k] = statistics.median(r[k] for r in rounds)
    builds[name] = {"binary": version(this if name == "this" else baseline), "rounds": rounds, "median": med}
labels = {"one15_c1": "one sentence, c=1", "mix_c1": "mix, c=1", "mix_c16": "mix, c=16", "mix_c64": "mix, c=64"}
figures = {"model": os.path.basename(model.rstrip("/")), "backend": backend, "duration_s": float(duration),
           "server_threads": int(threads), "load": "wrk on the same machine, 2 threads", "builds": builds}
if "baseline" in builds:
    a, b = builds["this"]["median"], builds["baseline"]["median"]
    figures["ratio"] = {run: {"tokens_per_s": round(a[run]["tokens_per_s"] / b[run]["tokens_per_s"], 3),
                              "p50_ms": round(a[run]["p50_ms"] / b[run]["p50_ms"], 3),
                              "p99_ms": round(a[run]["p99_ms"] / b[run]["p99_ms"], 3)} for run in labels}
json.dump(figures, open(f"{runs_dir}/figures.json", "w"))
n = len(builds["this"]["rounds"])
print(f"medians of {n} round(s); tokens per request: mix {builds['this']['rounds'][0]['tokens_per_request']['mix']:.1f}, "
      f"sentence {builds['this']['rounds'][0]['tokens_per_request']['sentence']}")
print(f"{'run':24} {'build':9} {'req/s':>9} {'tokens/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
for run, label in labels.items():
    for name, bld in builds.items():
        m = bld["median"][run]
        print(f"{label:24} {name:9} {m['requests_per_s']:9.0f} {m['tokens_per_s']:10.0f} {m['p50_ms']:8.2f} {m['p99_ms']:8.2f}")
    if "ratio" in figures:
        r = figures["ratio"][run]
        print(f"{'':24} {'ratio':9} {'':9} {r['tokens_per_s']:9.3f}x {r['p50_ms']:7.3f}x {r['p99_ms']:7.3f}x")
for name, bld in builds.items():
    m = bld["median"]
    print(f"{name}: {bld['binary']}; model threads {100 * m['model_threads_cpu_share_c64']:.0f}% of the server's CPU at c=64; "
          f"peak RSS {m['peak_rss_mib']:.0f} MiB; start-up to ready {m['startup_ms']:.0f} ms")
PY
echo "result: $(python3 "$ROOT/scripts/lib/result.py" bench-server "$RUNS/figures.json" --binary "$NER_SELF")"
