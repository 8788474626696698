#!/usr/bin/env bash
# Trains the Chinese model (models/zh-resume) on Resume NER with its recipe and evaluates it on
# the test set: one command, resumable (run it again after an interruption).
#
#   scripts/train-resume.sh [--train F --dev F --test F] [--out DIR] [--no-lexicon]
#                           [-- extra ner train flags, which override the script's]
#
# Characters are the tokens (tokenization char); each also gets its two character bigrams and
# SoftLexicon features (Ma et al. 2020) from jieba's dictionary (MIT; PyPI jieba 0.42.1, whose
# dict.txt lists 349,046 words, installed into the project's Python environment): the lexicon
# words each character begins, continues, ends or forms alone. Nadam (lr 0.002, decay 0.2 per
# epoch), dropout 0.6, seed 11: that is the shipped model. --no-lexicon trains bigrams alone
# (the releases before trained with `-- --optimizer sgd --lr-decay 0.05 --dropout 0.5 --seed
# 12`; the card compares them).
#
# Data: --data DIR holding train.char.bmes, dev.char.bmes and test.char.bmes (or
# $NER_RESUME_DIR), or --train, --dev and --test (Resume NER, Zhang & Yang 2018, from their
# LatticeLSTM repository); any one-character-per-line BMES/BIO file works.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${NER_RESUME_DIR:-}
TRAIN= DEV= TEST=
OUT=$ROOT/runs/zh-resume
LEXICON=1
EXTRA=()
while (($#)); do
  case $1 in
    --data) DATA=$2; shift 2 ;;
    --train) TRAIN=$2; shift 2 ;;
    --dev) DEV=$2; shift 2 ;;
    --test) TEST=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-lexicon) LEXICON=0; shift ;;
    --lexicon) LEXICON=1; shift ;;
    --) shift; EXTRA=("$@"); set --; break ;; # (setup.sh, sourced below, reads "$@")
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
if [[ -n $DATA ]]; then
  TRAIN=${TRAIN:-$DATA/train.char.bmes} DEV=${DEV:-$DATA/dev.char.bmes} TEST=${TEST:-$DATA/test.char.bmes}
fi
[[ -n $TRAIN && -n $DEV && -n $TEST ]] || { echo "no data: pass --data DIR (or set NER_RESUME_DIR), or --train, --dev and --test (see the header of $0)" >&2; exit 2; }
for f in "$TRAIN" "$DEV" "$TEST"; do
  [[ -f $f ]] || { echo "missing $f: pass --data DIR, or --train, --dev and --test (see the header of $0)" >&2; exit 1; }
done
# The training build: libtorch, for `ner train` (and the torch backend).
export NER_TORCH=1
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
# shellcheck source=lib/train-args.sh
source "$ROOT/scripts/lib/train-args.sh"
NER=$ROOT/target/release/ner
# --scratch: the script spells out its whole recipe rather than starting from ner train's.
ARGS=(--scratch --train "$TRAIN" --dev "$DEV" --test "$TEST" --out "$OUT" --name zh-resume
      --epochs 40 --patience 12 --threads 1 --seed 11 --tokenization char --model-scheme bioes
      --char-encoder none --lowercase false --bigram-dim 50 --ema 0.999
      --optimizer nadam --lr-decay 0.2 --dropout 0.6)
if ((LEXICON)); then
  PY=$(ner_python)
  "$PY" -m pip install --quiet --disable-pip-version-check jieba==0.42.1
  DICT=$("$PY" -c 'import os, jieba; print(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"))')
  ARGS+=(--lexicon "$DICT" --lexicon-dim 50)
fi
NER_SWITCHES="--scratch --quiet"
ner_override ARGS "${EXTRA[@]}"
ner_train_or_resume "$NER" "$OUT" "$TEST" "${ARGS[@]}" "${EXTRA[@]}"
