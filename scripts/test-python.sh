#!/usr/bin/env bash
# The Python package, as a user installs it: a fresh virtual environment, `pip install
# ./python[spacy,test]` (maturin builds the extension with the Rust toolchain; no PyTorch, no
# libtorch), then python/tests, which compare the module and the spaCy component with a real
# `ner serve` (NER_BIN, default: this checkout's target/serving/release/ner, the serving build).
#
#   scripts/test-python.sh        (NER_BASE_PYTHON=python3.X chooses the interpreter)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${NER_BASE_PYTHON:-python3}
"$PY" -c 'import sys; assert sys.version_info >= (3, 9), sys.version' ||
  { echo "the package needs Python 3.9 or later (set NER_BASE_PYTHON)" >&2; exit 1; }
"$PY" -m venv --help >/dev/null 2>&1 ||
  { echo "$PY has no venv module (Debian: apt-get install python3-venv)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" -m venv "$WORK/venv"
# Behind a proxy that intercepts TLS, pip must trust the machine's certificate authorities.
if [[ -z ${PIP_CERT:-} && -f /etc/ssl/certs/ca-certificates.crt ]]; then
  export PIP_CERT=/etc/ssl/certs/ca-certificates.crt
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
T0=$(date +%s)
"$WORK/venv/bin/pip" install --quiet "$ROOT/python[spacy,test]"
echo "[python] installed bilstm-crf-ner, spaCy and pytest into a fresh venv in $(($(date +%s) - T0)) s" >&2
cd "$ROOT/python"
"$WORK/venv/bin/python" -m pytest -q tests
