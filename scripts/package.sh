#!/usr/bin/env bash
# Assembles the self-contained runtime into DIR: DIR/bin/ner, the shared libraries it actually
# loads (found with ldd, not by copying the whole torch package), and DIR/models/. This is the
# single source of truth for the runtime image: docker/Dockerfile copies DIR as it is.
#
#   scripts/package.sh DIR
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${1:?usage: scripts/package.sh DIR}
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
BIN=$ROOT/target/release/ner
[[ -x $BIN ]] || { echo "[package] $BIN was not built" >&2; exit 1; }
rm -rf "$DIR"
mkdir -p "$DIR/bin" "$DIR/lib" "$DIR/models"
cp "$BIN" "$DIR/bin/ner"
strip --strip-debug "$DIR/bin/ner" 2>/dev/null || true
# Every library ldd resolves, except the C library family that every Linux system provides
# (and that must match the system's own loader).
ldd "$BIN" | awk '/=> \// {print $1, $3}' | while read -r name path; do
  case $name in
    libc.so.*|libm.so.*|libdl.so.*|libpthread.so.*|librt.so.*|libutil.so.*|libresolv.so.*|ld-linux*) continue ;;
  esac
  cp -L "$path" "$DIR/lib/$name"
done
for m in "$ROOT"/models/*/; do
  [[ -f $m/meta.json ]] || continue
  name=$(basename "$m")
  mkdir -p "$DIR/models/$name"
  find "$m" -maxdepth 1 -type f \( -name '*.json' -o -name '*.safetensors' -o -name 'README.md' \) -exec cp {} "$DIR/models/$name/" \;
done
( cd "$DIR" && find . -type f | sort >MANIFEST )
echo "[package] $DIR: $(du -sh "$DIR" | cut -f1) ($(ls "$DIR/lib" | wc -l) libraries)" >&2
