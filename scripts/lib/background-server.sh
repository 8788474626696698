# shellcheck shell=bash
# Sourced by the load scripts (bench-server.sh, soak-server.sh): starts `$NER serve` on a free
# loopback port (port 0: the kernel picks it, and the server reports it) with the given extra
# arguments, logs to $WORK/server.log, stops it and removes
# $WORK on exit, and returns once /ready answers (the server's own failure ends the script).
# Needs NER and WORK; sets PORT and PID.
start_server() {
  PORT=
  "$NER" serve --host 127.0.0.1 --port 0 --log-format json "$@" 2>"$WORK/server.log" &
  PID=$!
  trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
  until [[ -n $PORT ]] && "$NER" health --addr "127.0.0.1:$PORT" --path /ready >/dev/null 2>&1; do
    PORT=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$WORK/server.log" | grep -o '[0-9]*$' || true)
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.01
  done
}
