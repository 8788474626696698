#!/usr/bin/env bash
# Retraining on a user's corpus, measured: WikiANN English (three types, silver Wikipedia
# annotations) trained three ways, each over several seeds, scored on its test set:
#   scratch   ner train --scratch            (the library's plain defaults)
#   defaults  ner train                      (the shipped models' recipe, see `ner train --help`)
#   init-from ner train --init-from models/en-conll03
# Prints a table of test F1 (mean ± sd over seeds) and training time per run, and writes it to
# OUT/table.md. Finished runs are reused, so an interrupted campaign continues where it
# stopped.
#
#   scripts/retrain-wikiann.sh [--sentences N|all] [--seeds K] [--threads T] [--out DIR]
#                              [--data DIR] [--configs "scratch defaults init-from"]
#                              [--report] [-- extra ner train flags for every run]
# --report prints the table of the runs finished so far and trains nothing (several campaigns
# with different --configs can share one OUT, one per core).
#
# Data: --data DIR (or $NER_WIKIANN_DIR) holding train.txt, dev.txt and test.txt (WikiANN, Pan et al. 2017; the English
# split of Rahimi et al. 2019), one token and tag per line, blank lines between sentences.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${NER_WIKIANN_DIR:-}
SENTENCES=1000
SEEDS=3
THREADS=1
OUT=
CONFIGS="scratch defaults init-from"
REPORT=0
EXTRA=()
while (($#)); do
  case $1 in
    --sentences) SENTENCES=$2; shift 2 ;;
    --seeds) SEEDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --configs) CONFIGS=$2; shift 2 ;;
    --report) REPORT=1; shift ;;
    --) shift; EXTRA=("$@"); set --; break ;; # (setup.sh, sourced below, reads "$@")
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[[ -n $DATA ]] || { echo "no data: pass --data DIR (or set NER_WIKIANN_DIR) holding WikiANN's train.txt, dev.txt and test.txt" >&2; exit 2; }
for f in train dev test; do
  [[ -f $DATA/$f.txt ]] || { echo "missing $DATA/$f.txt: pass --data DIR (see the header of $0)" >&2; exit 1; }
done
OUT=${OUT:-$ROOT/runs/wikiann-$SENTENCES}
mkdir -p "$OUT"
# The training build: libtorch, for `ner train` (and the torch backend).
export NER_TORCH=1
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
NER=${NER_BIN:-$ROOT/target/release/ner}
TRAIN=$DATA/train.txt
if [[ $SENTENCES != all ]]; then
  # The first N sentences (blank-line separated), written once.
  TRAIN=$OUT/train-$SENTENCES.txt
  if [[ ! -f $TRAIN ]]; then
    awk -v n="$SENTENCES" 'BEGIN{RS=""; ORS="\n\n"} NR<=n' "$DATA/train.txt" >"$TRAIN.tmp"
    mv "$TRAIN.tmp" "$TRAIN"
  fi
fi

flags_of() {
  case $1 in
    scratch) echo --scratch ;;
    defaults) ;;
    init-from) echo --init-from "$ROOT/models/en-conll03" ;;
    *) echo "unknown configuration $1: expected scratch, defaults or init-from" >&2; exit 2 ;;
  esac
}

# Seeds outside, configurations inside: an interrupted campaign has comparable rows.
((REPORT)) && SEEDS=0
for ((seed = 1; seed <= SEEDS; seed++)); do
  for config in $CONFIGS; do
    read -r -a flags <<<"$(flags_of "$config")"
    dir=$OUT/$config/seed-$seed
    [[ -f $dir/time.txt ]] && continue
    mkdir -p "$OUT/$config"
    # Wall and CPU seconds of each invocation that worked on the run ("real user sys"): the CPU
    # time is the training time even when the run was paused (SIGSTOP) for a benchmark.
    TIMEFORMAT='%R %U %S'
    if [[ -f $dir/run.json ]]; then
      echo "[wikiann] $config, seed $seed: resuming $dir" >&2
      { time "$NER" train --quiet --threads "$THREADS" --resume "$dir" >>"$dir.log" 2>&1; } 2>>"$dir.times"
    else
      echo "[wikiann] $config, seed $seed -> $dir" >&2
      rm -rf "$dir" "$dir.times"
      { time "$NER" train --quiet --threads "$THREADS" --seed "$seed" --train "$TRAIN" \
        --dev "$DATA/dev.txt" --test "$DATA/test.txt" --out "$dir" "${flags[@]}" "${EXTRA[@]}" \
        >"$dir.log" 2>&1; } 2>>"$dir.times"
    fi
    awk '{s += $2 + $3} END {printf "%d\n", s}' "$dir.times" >"$dir/time.txt"
  done
done

python3 - "$OUT" "$SENTENCES" $CONFIGS <<'EOF' | tee "$OUT/table.md"
import json, os, statistics, sys
out, sentences, configs = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"WikiANN English, {sentences} training sentences; test F1 (conlleval micro) of the best-dev epoch\n")
print("| configuration | test F1 per seed | mean ± sd | dev F1 mean | best epoch | CPU minutes per run |")
print("|---|---|---|---|---|---|")
for c in configs:
    if not os.path.isdir(os.path.join(out, c)):
        continue
    seeds = sorted(d for d in os.listdir(os.path.join(out, c)) if d.startswith("seed-") and os.path.isdir(os.path.join(out, c, d)))
    test, dev, epochs, minutes = [], [], [], []
    for s in seeds:
        d = os.path.join(out, c, s)
        if not os.path.exists(os.path.join(d, "time.txt")):
            continue
        m = json.load(open(os.path.join(d, "meta.json")))["metrics"]
        test.append(m["test"]["overall"]["f1"])
        dev.append(m["dev"]["overall"]["f1"])
        epochs.append(m["epoch"])
        minutes.append(int(open(os.path.join(d, "time.txt")).read()) / 60)
    if not test:
        continue
    sd = statistics.stdev(test) if len(test) > 1 else 0.0
    print(f"| {c} | {' / '.join(f'{t:.2f}' for t in test)} | {statistics.mean(test):.2f} ± {sd:.2f} "
          f"| {statistics.mean(dev):.2f} | {' / '.join(map(str, epochs))} | {statistics.mean(minutes):.1f} |")
EOF
