#!/usr/bin/env bash
# Used by docker/Dockerfile: empty sources for every workspace crate, so that the dependencies
# are built in a layer that only the Cargo manifests invalidate. The real sources replace them
# in a later layer.
set -euo pipefail
for c in ner-core ner-tagger ner-model ner-server ner-python; do
  mkdir -p "crates/$c/src"
  : >"crates/$c/src/lib.rs"
done
mkdir -p crates/ner-cli/src crates/ner-fuzz/src crates/ner-core/benches
echo 'fn main() {}' >crates/ner-cli/src/main.rs
echo 'fn main() {}' >crates/ner-fuzz/src/main.rs
echo 'fn main() {}' >crates/ner-core/benches/viterbi.rs
