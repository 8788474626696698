#!/usr/bin/env bash
# Start the NER service with the shipped models on 0.0.0.0:8080: English (models/en-conll03, the
# default) and Chinese (models/zh-resume; requests choose it with "model": "zh-resume").
# NER_HOST / NER_PORT / NER_MODELS (comma-separated [NAME=]DIR list, the first the default)
# override. Runs scripts/setup.sh first, so it works on a fresh clone: it builds `ner` without
# libtorch (no PyTorch is downloaded) into target/serving/release/ner, beside (never over) a
# training build in target/release/ner. The shipped default models need no transformer, so it
# is fetched only when NER_MODELS names the models to serve (set NER_SKIP_TRANSFORMER=1 to
# skip it then too).
set -euo pipefail
NER_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${NER_MODELS:-}${NER_MODEL:-} ]]; then
  export NER_SKIP_TRANSFORMER=${NER_SKIP_TRANSFORMER:-1}
fi
# shellcheck source=setup.sh
source "$NER_ROOT/scripts/setup.sh"
cd "$NER_ROOT"
export NER_HOST=${NER_HOST:-0.0.0.0}
export NER_PORT=${NER_PORT:-${PORT:-8080}}
export NER_MODELS=${NER_MODELS:-${NER_MODEL:-$NER_ROOT/models/en-conll03},$NER_ROOT/models/zh-resume}
if ! "$NER_SERVE_BIN" serve --help >/dev/null 2>&1; then
  echo "serving is not built yet: 'ner serve' does not exist in this version" >&2
  exit 2
fi
echo "[serve] http://localhost:$NER_PORT/  (models: $NER_MODELS)" >&2
echo "[serve] try: curl -s localhost:$NER_PORT/ner -H 'content-type: application/json' -d '{\"text\": \"Angela Merkel visited Paris.\"}'" >&2
exec "$NER_SERVE_BIN" serve
