#!/usr/bin/env bash
# Model speed against the straightforward PyTorch reference, measured side by side in one run
# on this machine: inference tokens/s at batch 1, 8, 32, 128 on the CoNLL-2003 test set, the
# latency of one 15-token sentence, a training step at batch 32 and a training epoch at
# batch 10. Prints a table with the ratios.
#
#   scripts/bench-model.sh [--data DIR] [--reference PATH]
# DIR holds train.txt, valid.txt and test.txt (default: ../shared/data/conll2003).
# NER_BIN=PATH measures another build of `ner` (for before/after tables).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=$ROOT/../shared/data/conll2003
REF=$ROOT/../shared/bench/torch_bilstm_crf.py
while (($#)); do
  case $1 in
    --data) DATA=$2; shift 2 ;;
    --reference) REF=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
for f in train.txt valid.txt test.txt; do
  [[ -f $DATA/$f ]] || { echo "missing $DATA/$f: pass --data DIR with CoNLL-2003's train/valid/test files" >&2; exit 1; }
done
[[ -f $REF ]] || { echo "missing the reference $REF: pass --reference PATH" >&2; exit 1; }
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
PY=${NER_PYTHON:-python3}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "[bench] ours (inference 2 threads, training 1 thread)" >&2
"${NER_BIN:-$ROOT/target/release/ner}" bench --train "$DATA/train.txt" --test "$DATA/test.txt" --epoch >"$OUT/ours.jsonl"
echo "[bench] reference: one training epoch at batch 10 (1 thread, casing feature)" >&2
"$PY" "$REF" --train "$DATA/train.txt" --test "$DATA/test.txt" --epochs 1 --threads 1 --case-feat --save "$OUT/ref.pt" >"$OUT/ref_train.log"
echo "[bench] reference: inference (2 threads)" >&2
"$PY" "$REF" --load "$OUT/ref.pt" --test "$DATA/test.txt" --predict-bench --bench-batch-sizes 1,8,32,128 --bench-threads 2 >"$OUT/ref_pred.log"
python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
ours = [json.loads(l) for l in open(f"{out}/ours.jsonl")]
inf = {o["batch"]: o for o in ours if o["what"] == "inference"}
lat = next(o for o in ours if o["what"] == "latency_15_tokens")
step = next(o for o in ours if o["what"] == "train_step_batch32")
epoch = next(o for o in ours if o["what"] == "train_epoch_batch10")
ref_inf = {}
for l in open(f"{out}/ref_pred.log"):
    m = re.search(r"bench batch\s+(\d+) (len-sorted|file-order).*-> ([\d.]+) sent/s, (\d+) tok/s", l)
    if m and (m.group(1) == "1" or m.group(2) == "len-sorted"):
        ref_inf[int(m.group(1))] = (float(m.group(3)), float(m.group(4)))
ref_epoch = float(re.search(r"epoch\s+1 train_s\s+([\d.]+)", open(f"{out}/ref_train.log").read()).group(1))
print(f"{'measurement':38} {'ours':>12} {'reference':>12} {'ratio':>8}")
for b in sorted(inf):
    o = inf[b]["tokens_per_s"]; r = ref_inf.get(b, (0, 0))[1]
    print(f"{'inference tokens/s, batch ' + str(b):38} {o:12.0f} {r:12.0f} {o / r if r else float('nan'):7.2f}x")
r1 = ref_inf.get(1, (0, 0))[0]
ref_ms = 1000 / r1 if r1 else float("nan")
our_ms = 1000 / inf[1]["sentences_per_s"] if 1 in inf else float("nan")
print(f"{'latency per sentence at batch 1, ms':38} {our_ms:12.2f} {ref_ms:12.2f} {ref_ms / our_ms:7.2f}x lower")
print(f"{'latency of one 15-token sentence, ms':38} {lat['median_ms']:12.2f} {'':>12} {ref_ms / lat['median_ms']:7.2f}x lower")
print(f"{'training step at batch 32, ms':38} {step['ms_per_step']:12.1f} {'':>12}")
print(f"{'training epoch at batch 10, s':38} {epoch['seconds']:12.1f} {ref_epoch:12.1f} {ref_epoch / epoch['seconds']:7.2f}x faster")
PY
