#!/usr/bin/env bash
# All tests: formatting, lints, then every test of the workspace. Runs scripts/setup.sh first
# (libtorch and the release build), so it works on a fresh clone with nothing exported.
set -euo pipefail
NER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=setup.sh
source "$NER_ROOT/scripts/setup.sh"
cd "$NER_ROOT"

step() { printf '\n[test] %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all --check

# Tests are built with the release profile: the same libtorch shim and dependencies that
# setup.sh built are reused instead of compiled a second time, and the training tests run fast.
step "cargo clippy --workspace --all-targets --release -- -D warnings"
cargo clippy --workspace --all-targets --release --quiet -- -D warnings

step "cargo test --workspace --release"
cargo test --workspace --release
