#!/usr/bin/env bash
# `docker compose up`, for real: builds the image from this checkout, starts it with compose,
# waits for its health check, asks POST /ner and the demo page through the published port, and
# stops it with `docker-compose stop` (which must end within the grace period with exit code 0:
# SIGTERM reached the server) before `down`. Prints the build time, the image size and the time
# to healthy.
#
#   scripts/test-container.sh [--rebuild] [--transformer]
#       --rebuild       also time a second build after a one-line source change (in a copy of
#                       the tree)
#       --transformer   also build the image with the accurate model's transformer
#                       (--build-arg NER_TRANSFORMER=1) and give its size
#
# It also proves that `cargo install --path crates/ner-cli` works on a machine with the Rust
# toolchain and nothing else (no Python, no libtorch): in a clean container of the Rust base
# image, from a copy of the tracked files.
#
# What it needs, it installs when it can (as root: docker.io, debootstrap, docker-compose) and
# starts dockerd when no engine answers (stopping it again at the end). Where Docker Hub cannot
# be reached, it makes the two base images the Dockerfile names locally: `debian:bookworm-slim`
# from a debootstrap of bookworm, and `rust:1.95-bookworm` from that plus this machine's own
# Rust toolchain. These are stand-ins, used only when the real images cannot be pulled. The
# machine's certificate bundle is handed to the build as an extra certificate authority
# (docker/ca/, see docker/ca/README.md), as a user behind a TLS-intercepting proxy would.
# Exit codes: 0 passed, 1 failed, 2 cannot run here (no root, no engine to be had).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
REBUILD=0 TRANSFORMER=0
for arg in "$@"; do
  case $arg in
    --rebuild) REBUILD=1 ;;
    --transformer) TRANSFORMER=1 ;;
    *) echo "unknown argument $arg (expected --rebuild, --transformer)" >&2; exit 1 ;;
  esac
done
say() { printf '[container] %s\n' "$*" >&2; }
cannot() { say "cannot run here: $*"; exit 2; }
# Debian's docker CLI speaks to Debian's engine; a newer client elsewhere in PATH may not.
export PATH=/usr/bin:/usr/sbin:$PATH
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
PROJECT=nertest$$
COMPOSE=(docker-compose -p "$PROJECT" -f compose.yaml -f docker/compose.host-network-build.yaml)
STARTED_DOCKERD=
CA_COPY=docker/ca/host-bundle.crt

cleanup() {
  "${COMPOSE[@]}" down --remove-orphans >/dev/null 2>&1 || true
  # The untagged images this build left behind (its build stage, 8 GB, and a replaced
  # ner:latest): a CI machine that runs this on every submission would otherwise fill its disk.
  docker image prune -f --filter label=io.ner.stage >/dev/null 2>&1 || true
  rm -f "$CA_COPY"
  if [[ -n $STARTED_DOCKERD ]]; then
    kill "$STARTED_DOCKERD" 2>/dev/null || true
    wait "$STARTED_DOCKERD" 2>/dev/null || true
  fi
}
trap cleanup EXIT

install_tools() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  ((${#missing[@]})) || return 0
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1 || cannot "${missing[*]} missing, and not root with apt-get"
  say "installing ${missing[*]}"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null 2>&1 ||
    cannot "apt-get could not install ${missing[*]}"
}

start_engine() {
  docker info >/dev/null 2>&1 && return 0
  [[ $(id -u) == 0 ]] || cannot "no Docker engine answers and dockerd needs root"
  say "starting dockerd"
  dockerd >"${TMPDIR:-/tmp}/ner-dockerd.log" 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$STARTED_DOCKERD" 2>/dev/null || break
    sleep 1
  done
  tail -20 "${TMPDIR:-/tmp}/ner-dockerd.log" >&2 || true
  cannot "dockerd did not start"
}

# The two base images: pulled when Docker Hub answers, otherwise made here.
base_images() {
  local slim=debian:bookworm-slim rust=rust:1.95-bookworm
  if ! docker image inspect "$slim" >/dev/null 2>&1 && ! timeout 60 docker pull -q "$slim" >/dev/null 2>&1; then
    say "making the stand-in $slim with debootstrap (Docker Hub cannot be reached)"
    local fs
    fs=$(mktemp -d)
    debootstrap --variant=minbase --include=passwd bookworm "$fs" http://deb.debian.org/debian >/dev/null
    tar -C "$fs" -c . | docker import - "$slim" >/dev/null
    rm -rf "$fs"
  fi
  if ! docker image inspect "$rust" >/dev/null 2>&1 && ! timeout 60 docker pull -q "$rust" >/dev/null 2>&1; then
    say "making the stand-in $rust from $slim and this machine's Rust toolchain"
    local tc
    tc=$(rustc --print sysroot)
    # The real image has a C toolchain for linking (and no Python); so has the stand-in.
    docker build -q --network host -t "$rust" -f - "$tc" >/dev/null <<'DOCKERFILE'
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
COPY . /usr/local/rust
ENV PATH=/usr/local/rust/bin:/usr/local/cargo/bin:$PATH CARGO_HOME=/usr/local/cargo
DOCKERFILE
  fi
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_healthy() { # container id
  for _ in $(seq 1 180); do
    case $(docker inspect --format '{{.State.Health.Status}}' "$1" 2>/dev/null) in
      healthy) return 0 ;;
      unhealthy) docker logs "$1" 2>&1 | tail -20 >&2; return 1 ;;
    esac
    sleep 1
  done
  return 1
}

check_answers() { # port
  local reply page
  reply=$(python3 - "$1" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/ner",
                             json.dumps({"text": "Angela Merkel visited Paris on Monday."}).encode(),
                             {"content-type": "application/json"})
print(json.dumps(json.load(urllib.request.urlopen(req, timeout=30))))
PY
  )
  python3 -c 'import json, sys; v = json.loads(sys.argv[1]); e = {(x["text"], x["label"]) for x in v["entities"]}; sys.exit(0 if {("Angela Merkel", "PER"), ("Paris", "LOC")} <= e else 1)' "$reply" ||
    { say "unexpected /ner answer: $reply"; return 1; }
  page=$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=10).read().decode())' "$1")
  grep -q '<form' <<<"$page" || { say "the demo page has no form"; return 1; }
  say "POST /ner answered with Angela Merkel/PER and Paris/LOC; the demo page is served"
}

# `cargo install --path crates/ner-cli` in a clean container of the Rust base image: the
# toolchain and a C linker, no Python, no libtorch. The copy holds the tracked files only.
cargo_install() {
  local copy t0
  copy=$(mktemp -d)
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -c | tar -C "$copy" -x
  t0=$(date +%s)
  docker run --rm --network host -v "$copy:/src:ro" \
    -v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
    -e CARGO_HTTP_CAINFO=/etc/ssl/certs/ca-certificates.crt rust:1.95-bookworm bash -c '
      set -e
      if command -v python3 >/dev/null; then echo "python3 is in the image" >&2; exit 1; fi
      cp -r /src /tmp/src && cd /tmp/src
      cargo install --quiet --locked --path crates/ner-cli --root /tmp/inst
      /tmp/inst/bin/ner --version
      echo "{\"text\": \"Angela Merkel visited Paris.\"}" |
        /tmp/inst/bin/ner predict --model models/en-conll03 --format jsonl | grep -q "\"PER\""
      ! ldd /tmp/inst/bin/ner | grep -i torch' >"${TMPDIR:-/tmp}/ner-cargo-install.log" 2>&1 ||
    { tail -30 "${TMPDIR:-/tmp}/ner-cargo-install.log" >&2; rm -rf "$copy"; say "cargo install failed in a clean container"; return 1; }
  rm -rf "$copy"
  say "cargo install --path crates/ner-cli in a clean Rust container (no Python, no libtorch): $(($(date +%s) - t0)) s, and the installed ner tags"
}

# The image with the transformer of the accurate English model: its size.
with_transformer() {
  local t0 size
  t0=$(date +%s)
  docker build -q --network host --build-arg NER_TRANSFORMER=1 -t ner:transformer -f docker/Dockerfile . \
    >"${TMPDIR:-/tmp}/ner-transformer-build.log" 2>&1 ||
    { tail -30 "${TMPDIR:-/tmp}/ner-transformer-build.log" >&2; say "the image with the transformer did not build"; return 1; }
  size=$(docker image inspect ner:transformer --format '{{.Size}}')
  docker run --rm -i --entrypoint /app/bin/ner ner:transformer predict --model /app/models/en-conll03-ctx --format jsonl \
    <<<'{"text": "Angela Merkel visited Paris."}' | grep -q '"PER"' ||
    { say "the image with the transformer does not tag with en-conll03-ctx"; return 1; }
  docker image rm ner:transformer >/dev/null 2>&1 || true
  say "image with the transformer: $((size / 1024 / 1024)) MB, built in $(($(date +%s) - t0)) s; en-conll03-ctx tags in it"
}

# A second build after a one-line change, in a copy of the tree (this checkout is not touched).
time_rebuild() {
  local copy t0
  copy=$(mktemp -d)
  git ls-files -z --cached --others --exclude-standard | tar --null -T - -c | tar -C "$copy" -x
  cp "$CA_COPY" "$copy/docker/ca/" 2>/dev/null || true
  echo '// a one-line change' >>"$copy/crates/ner-cli/src/main.rs"
  t0=$(date +%s)
  (cd "$copy" && docker-compose -p "$PROJECT" -f compose.yaml -f docker/compose.host-network-build.yaml build >"${TMPDIR:-/tmp}/ner-compose-rebuild.log" 2>&1) ||
    { tail -30 "${TMPDIR:-/tmp}/ner-compose-rebuild.log" >&2; rm -rf "$copy"; say "the second build failed"; return 1; }
  say "second build after a one-line change: $(($(date +%s) - t0)) s"
  rm -rf "$copy"
}

main() {
  install_tools
  start_engine
  base_images
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] && cp /etc/ssl/certs/ca-certificates.crt "$CA_COPY"
  local port t0 t1 t2 id code
  port=$(free_port)
  t0=$(date +%s)
  say "docker-compose up --build (logs: ${TMPDIR:-/tmp}/ner-compose-build.log)"
  NER_HOST_PORT=$port "${COMPOSE[@]}" build >"${TMPDIR:-/tmp}/ner-compose-build.log" 2>&1 ||
    { tail -30 "${TMPDIR:-/tmp}/ner-compose-build.log" >&2; say "the image did not build"; exit 1; }
  t1=$(date +%s)
  NER_HOST_PORT=$port "${COMPOSE[@]}" up -d >/dev/null 2>&1
  id=$("${COMPOSE[@]}" ps -q ner)
  wait_healthy "$id" || { say "the container did not turn healthy"; exit 1; }
  t2=$(date +%s)
  check_answers "$port"
  local t3
  t3=$(date +%s)
  NER_HOST_PORT=$port "${COMPOSE[@]}" stop >/dev/null 2>&1
  code=$(docker inspect --format '{{.State.ExitCode}}' "$id")
  local stopped=$(($(date +%s) - t3))
  [[ $code == 0 ]] || { say "the server exited with $code on SIGTERM"; exit 1; }
  ((stopped < 30)) || { say "stopping took ${stopped} s, beyond the 30 s grace period"; exit 1; }
  "${COMPOSE[@]}" down >/dev/null 2>&1
  local size
  size=$(docker image inspect ner:latest --format '{{.Size}}')
  say "build $((t1 - t0)) s; image ner:latest $((size / 1024 / 1024)) MB; healthy $((t2 - t1)) s after start; stopped in ${stopped} s with exit code 0"
  ((REBUILD)) && time_rebuild
  ((TRANSFORMER)) && with_transformer
  cargo_install
  say "passed"
}
main
