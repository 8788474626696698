#!/usr/bin/env bash
# Model speed against the straightforward PyTorch reference, measured side by side in one run
# on this machine: inference tokens/s of the native and the libtorch backend at batch 1, 8, 32,
# 128 on the CoNLL-2003 test set, the
# latency of one 15-token sentence, a training step at batch 32 and a training epoch at
# batch 10. Prints a table with the ratios. Then the shipped English models' inference speed at
# batch 1 and 32 on the same test set (--models; the accurate one needs the transformer that
# scripts/setup.sh installs). The figures are written as a JSON result (machine, commit, date)
# by scripts/lib/result.py: to benchmarks/results/, or $NER_RESULTS_DIR.
#
#   scripts/bench-model.sh --data DIR --reference PATH [--models "DIR ..."] [--resume-data DIR]
# DIR holds CoNLL-2003's train.txt, valid.txt and test.txt (or $NER_CONLL_DIR); PATH is the
# PyTorch reference BiLSTM-CRF script (or $NER_REFERENCE). --resume-data DIR (or
# $NER_RESUME_DIR) holds Resume NER's train.char.bmes and test.char.bmes: models/zh-resume is
# then measured on its own test set too.
# NER_BIN=PATH measures another build of `ner` (for before/after tables).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${NER_CONLL_DIR:-}
REF=${NER_REFERENCE:-}
MODELS="$ROOT/models/en-conll03 $ROOT/models/en-conll03-ctx"
RESUME=${NER_RESUME_DIR:-}
while (($#)); do
  case $1 in
    --data) DATA=$2; shift 2 ;;
    --reference) REF=$2; shift 2 ;;
    --models) MODELS=$2; shift 2 ;;
    --resume-data) RESUME=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n $DATA ]] || { echo "no data: pass --data DIR (or set NER_CONLL_DIR) with CoNLL-2003's train.txt, valid.txt and test.txt" >&2; exit 2; }
[[ -n $REF ]] || { echo "no reference: pass --reference PATH (or set NER_REFERENCE), the PyTorch BiLSTM-CRF script to compare with" >&2; exit 2; }
for f in train.txt valid.txt test.txt; do
  [[ -f $DATA/$f ]] || { echo "missing $DATA/$f: pass --data DIR with CoNLL-2003's train/valid/test files" >&2; exit 1; }
done
[[ -f $REF ]] || { echo "missing the reference $REF: pass --reference PATH" >&2; exit 1; }
# The training build: libtorch, for `ner train` (and the torch backend).
export NER_TORCH=1
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
NER=${NER_BIN:-$ROOT/target/release/ner}
for m in $MODELS; do
  echo "[bench] shipped model $(basename "$m"): inference at batch 1 and 32 (2 threads)" >&2
  "$NER" bench --model "$m" --train "$DATA/train.txt" --test "$DATA/test.txt" --batch-sizes 1,32 \
    | python3 -c 'import json, sys; [print(json.dumps({**json.loads(l), "model": sys.argv[1]})) for l in sys.stdin]' "$(basename "$m")" \
    >>"$OUT/models.jsonl" || echo "[bench] $(basename "$m") skipped (see above)" >&2
done
if [[ -n $RESUME ]]; then
  echo "[bench] shipped model zh-resume on Resume NER's test set: inference at batch 1 and 32 (2 threads)" >&2
  "$NER" bench --model "$ROOT/models/zh-resume" --train "$RESUME/train.char.bmes" --test "$RESUME/test.char.bmes" --batch-sizes 1,32 \
    | python3 -c 'import json, sys; [print(json.dumps({**json.loads(l), "model": "zh-resume"})) for l in sys.stdin]' \
    >>"$OUT/models.jsonl" || echo "[bench] zh-resume skipped (see above)" >&2
fi
python3 - "$OUT" <<'PY'
import json, os, re, sys
out = sys.argv[1]
ours = [json.loads(l) for l in open(f"{out}/ours.jsonl")]
inf = {(o.get("backend", "torch"), o["batch"]): o for o in ours if o["what"] == "inference"}
lat = {o.get("backend", "torch"): o for o in ours if o["what"] == "latency_15_tokens"}
step = next(o for o in ours if o["what"] == "train_step_batch32")
epoch = next(o for o in ours if o["what"] == "train_epoch_batch10")
ref_inf = {}
for l in open(f"{out}/ref_pred.log"):
    m = re.search(r"bench batch\s+(\d+) (len-sorted|file-order).*-> ([\d.]+) sent/s, (\d+) tok/s", l)
    if m and (m.group(1) == "1" or m.group(2) == "len-sorted"):
        ref_inf[int(m.group(1))] = (float(m.group(3)), float(m.group(4)))
ref_epoch = float(re.search(r"epoch\s+1 train_s\s+([\d.]+)", open(f"{out}/ref_train.log").read()).group(1))
backends = [b for b in ("native", "torch") if any(k[0] == b for k in inf)]
print(f"{'measurement':38}" + "".join(f"{b:>10}" for b in backends) + f"{'reference':>11}" + "".join(f"{b + '/ref':>12}" for b in backends))
for bs in sorted({k[1] for k in inf}):
    r = ref_inf.get(bs, (0, 0))[1]
    vals = [inf[(b, bs)]["tokens_per_s"] if (b, bs) in inf else float("nan") for b in backends]
    print(f"{'inference tokens/s, batch ' + str(bs):38}" + "".join(f"{v:10.0f}" for v in vals) + f"{r:11.0f}"
          + "".join(f"{v / r if r else float('nan'):11.2f}x" for v in vals))
hits = [f"batch {k[1]} {o['memo_hits'] * 100:.0f}%" for k, o in sorted(inf.items()) if o.get("memo_hits") is not None]
if hits:
    print("native first-layer memo, share of timed tokens found: " + ", ".join(hits))
r1 = ref_inf.get(1, (0, 0))[0]
ref_ms = 1000 / r1 if r1 else float("nan")
per = [1000 / inf[(b, 1)]["sentences_per_s"] if (b, 1) in inf else float("nan") for b in backends]
print(f"{'latency per sentence at batch 1, ms':38}" + "".join(f"{v:10.2f}" for v in per) + f"{ref_ms:11.2f}")
l15 = [lat[b]["median_ms"] if b in lat else float("nan") for b in backends]
print(f"{'latency of one 15-token sentence, ms':38}" + "".join(f"{v:10.3f}" for v in l15))
print(f"{'training step at batch 32, ms':38}{step['ms_per_step']:10.1f}")
print(f"{'training epoch at batch 10, s':38}{epoch['seconds']:10.1f}{'':>10}{ref_epoch:11.1f}{ref_epoch / epoch['seconds']:11.2f}x faster")
models = {}
if os.path.exists(f"{out}/models.jsonl"):
    for l in open(f"{out}/models.jsonl"):
        o = json.loads(l)
        at = models.setdefault(o["model"], {}).setdefault(o.get("backend", "torch"), {})
        if o["what"] == "inference":
            at[f"batch_{o['batch']}_tokens_per_s"] = round(o["tokens_per_s"])
        elif o["what"] == "latency_15_tokens":
            at["latency_15_tokens_ms"] = round(o["median_ms"], 3)
for name, m in models.items():
    for backend, v in m.items():
        print(f"{name}, {backend}: " + ", ".join(f"{k} {x}" for k, x in v.items()))
figures = {
    "test_set": "CoNLL-2003 English test", "inference_threads": 2, "training_threads": 1,
    "fresh_model": {
        "inference_tokens_per_s": {b: {str(bs): round(inf[(b, bs)]["tokens_per_s"]) for (bb, bs) in inf if bb == b} for b in backends},
        "reference_inference_tokens_per_s": {str(bs): round(v[1]) for bs, v in ref_inf.items()},
        "latency_per_sentence_batch_1_ms": dict(zip(backends, [round(v, 3) for v in per]), reference=round(ref_ms, 3)),
        "latency_15_tokens_ms": dict(zip(backends, l15)),
        "train_step_batch_32_ms": step["ms_per_step"],
        "train_epoch_batch_10_s": {"ours": epoch["seconds"], "reference": ref_epoch},
    },
    "shipped_models": models,
}
json.dump(figures, open(f"{out}/figures.json", "w"))
PY
echo "result: $(python3 "$ROOT/scripts/lib/result.py" bench-model "$OUT/figures.json" --binary "$NER")"
