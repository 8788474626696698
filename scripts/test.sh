#!/usr/bin/env bash
# All tests: formatting, lints, then every test of the workspace, with libtorch (the training
# build, whose tests compare the native tagger with libtorch); then the serving build without
# libtorch, which the fuzzing, deployment and container checks run. Runs scripts/setup.sh
# first, so it works on a fresh clone with nothing exported.
set -euo pipefail
NER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export NER_TORCH=1
# shellcheck source=setup.sh
source "$NER_ROOT/scripts/setup.sh"
cd "$NER_ROOT"

step() { printf '\n[test] %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check

# Tests are built with the release profile: the same libtorch shim and dependencies that
# setup.sh built are reused instead of compiled a second time, and the training tests run fast.
step "cargo clippy --workspace --all-targets --release (with and without libtorch) -- -D warnings"
cargo clippy --workspace --all-targets --release --features ner-cli/torch --quiet -- -D warnings
cargo clippy -p ner-cli --all-targets --release --quiet -- -D warnings

step "no import circle inside a crate: scripts/module-cycles.py"
python3 scripts/module-cycles.py

# The demo page is tested in a real browser: install Debian's Chromium when it is missing.
if ! command -v chromium >/dev/null 2>&1; then
  step "installing chromium for the browser test"
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 ||
      echo "[test] WARNING: chromium could not be installed; the browser test will fail" >&2
  else
    echo "[test] WARNING: chromium is missing and cannot be installed here (not root); the browser test will fail (install chromium)" >&2
  fi
fi

# The metrics are checked against seqeval, and scripts/spacy-vectors.py needs numpy: Python
# packages the tests do not install themselves.
PY=${NER_PYTHON:-python3}
if ! "$PY" -c "import seqeval, numpy" >/dev/null 2>&1; then
  step "installing seqeval and numpy into $PY's environment for the tests"
  "$PY" -m pip install --quiet --disable-pip-version-check seqeval==1.2.2 numpy
fi

step "cargo test --workspace --release --features ner-cli/torch"
cargo test --workspace --release --features ner-cli/torch

# The serving build: what scripts/serve.sh, the package and the image run. The scripts below
# make it too (they run scripts/setup.sh without --torch).
unset NER_TORCH
step "the serving build: cargo build --release -p ner-cli --target-dir target/serving (no libtorch)"
NER_SKIP_BUILD= source "$NER_ROOT/scripts/setup.sh"
if ldd "$NER_SERVE_BIN" | grep -i torch; then
  echo "[test] the serving build links libtorch (above)" >&2
  exit 1
fi
train_says=$("$NER_SERVE_BIN" train --train x 2>&1 || true)
grep -q -- '--features torch' <<<"$train_says" ||
  { echo "[test] 'ner train' in the serving build does not name the build that has it: $train_says" >&2; exit 1; }
echo "[test] links no libtorch ($(ldd "$NER_SERVE_BIN" | awk '/=>/ {print $1}' | tr '\n' ' ')); ner train says which build has it" >&2

step "the Python package and the spaCy component: scripts/test-python.sh"
scripts/test-python.sh

step "a short seeded request-fuzzing campaign: scripts/fuzz-server.sh --requests 3000 --seed 7"
FUZZ_LOG=$(mktemp)
scripts/fuzz-server.sh --requests 3000 --seed 7 --clients 32 2>&1 | tee "$FUZZ_LOG" | tail -6
fuzz_summary=$(grep -o 'failures: .*' "$FUZZ_LOG" | head -1)
rm -f "$FUZZ_LOG"

step "deployment files and the packaged runtime"
DEPLOY_LOG=$(mktemp)
scripts/check-deploy.sh 2>&1 | tee "$DEPLOY_LOG"
deploy_summary=$(grep -o 'summary: .*' "$DEPLOY_LOG" | tail -1 | sed 's/^summary: //')
rm -f "$DEPLOY_LOG"

# The image itself: built and run with docker compose when a Docker engine can be had here
# (root with apt-get, or an engine already running); said plainly when it cannot.
step "the container: scripts/test-container.sh"
CONTAINER_LOG=$(mktemp)
set +e
scripts/test-container.sh 2>&1 | tee "$CONTAINER_LOG"
container_rc=${PIPESTATUS[0]}
set -e
case $container_rc in
  0) container_summary="built, healthy, answered /ner, stopped cleanly ($(grep -o 'build [0-9]* s; image.*' "$CONTAINER_LOG" | head -1))" ;;
  2) container_summary="NOT RUN: $(grep -o 'cannot run here: .*' "$CONTAINER_LOG" | head -1)" ;;
  *) rm -f "$CONTAINER_LOG"; echo "[test] the container test failed" >&2; exit 1 ;;
esac
rm -f "$CONTAINER_LOG"
printf '\n[test] summary: workspace tests passed; request fuzzing (3000, seed 7): %s; deploy checks: %s; container: %s\n' "$fuzz_summary" "$deploy_summary" "$container_summary" >&2
