#!/usr/bin/env bash
# Assembles the self-contained serving runtime from the release build of `ner` (the serving
# build, without libtorch: run scripts/setup.sh first). This is the single source of truth for
# the runtime image: docker/Dockerfile copies the root file system it makes as it is.
#
#   scripts/package.sh DIR            DIR/bin/ner, DIR/lib/ (the shared libraries it loads
#                                     beyond the C library every Linux system has), DIR/models/
#   scripts/package.sh --rootfs DIR   a root file system for an image FROM scratch: the same
#                                     under DIR/app/, the C runtime (loader, libc, libm,
#                                     libgcc_s) at its own paths, and /etc/passwd and /etc/group
#                                     naming the user ner (10001)
#
#   NER_PACKAGE_TRANSFORMER=1         also the transformer of the accurate English model
#                                     (all-MiniLM-L6-v2 from $NER_CACHE_DIR/transformers, which
#                                     scripts/setup.sh installs) under app/cache/transformers
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOTFS=
if [[ ${1:-} == --rootfs ]]; then
  ROOTFS=1
  shift
fi
OUT=${1:?usage: scripts/package.sh [--rootfs] DIR}
NER_CACHE_DIR=${NER_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ner}
BIN=${NER_SERVE_BIN:-$ROOT/target/serving/release/ner}
[[ -x $BIN ]] || { echo "[package] $BIN was not built (run scripts/setup.sh)" >&2; exit 1; }
if ldd "$BIN" | grep -qi torch; then
  echo "[package] $BIN links libtorch: package the serving build (scripts/setup.sh without --torch)" >&2
  exit 1
fi
rm -rf "$OUT"
DIR=$OUT
[[ -n $ROOTFS ]] && DIR=$OUT/app
mkdir -p "$DIR/bin" "$DIR/lib" "$DIR/models"
cp "$BIN" "$DIR/bin/ner"
strip --strip-debug "$DIR/bin/ner" 2>/dev/null || true

# Every library ldd resolves. The C library family goes to its own path in a root file system
# (the binary names its loader by absolute path) and is left to the system otherwise, where it
# must match the system's own loader.
ldd "$BIN" | awk '/=> \// {print $1, $3} /^\t\/.*ld-linux/ {print $1, $1}' | while read -r name path; do
  case $name in
    libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | libutil.so.* | libresolv.so.* | libgcc_s.so.* | */ld-linux* | ld-linux*)
      if [[ -n $ROOTFS ]]; then
        mkdir -p "$OUT$(dirname "$path")"
        cp -L "$path" "$OUT$path"
      fi
      if [[ $name == libgcc_s.so.* && -z $ROOTFS ]]; then
        cp -L "$path" "$DIR/lib/$name"
      fi
      ;;
    *) cp -L "$path" "$DIR/lib/$name" ;;
  esac
done
rmdir "$DIR/lib" 2>/dev/null || true

for m in "$ROOT"/models/*/; do
  [[ -f $m/meta.json ]] || continue
  name=$(basename "$m")
  mkdir -p "$DIR/models/$name"
  find "$m" -maxdepth 1 -type f \( -name '*.json' -o -name '*.safetensors' -o -name 'README.md' \) -exec cp {} "$DIR/models/$name/" \;
done

if [[ -n ${NER_PACKAGE_TRANSFORMER:-} ]]; then
  src=$NER_CACHE_DIR/transformers/all-MiniLM-L6-v2
  [[ -e $src/.ner-complete ]] || { echo "[package] $src is not installed (run scripts/setup.sh)" >&2; exit 1; }
  mkdir -p "$DIR/cache/transformers/all-MiniLM-L6-v2"
  cp "$src"/config.json "$src"/tokenizer.json "$src"/model.safetensors "$src"/SOURCE "$DIR/cache/transformers/all-MiniLM-L6-v2/"
fi

if [[ -n $ROOTFS ]]; then
  mkdir -p "$OUT/etc" "$OUT/tmp"
  echo 'ner:x:10001:10001:ner:/app:/sbin/nologin' >"$OUT/etc/passwd"
  echo 'ner:x:10001:' >"$OUT/etc/group"
fi
(cd "$DIR" && find . -type f | sort >MANIFEST)
echo "[package] $OUT: $(du -sh "$OUT" | cut -f1)" >&2
