"""Fixtures: the repository's models, the module's tagger, and a real `ner serve` to compare with.

NER_BIN names the `ner` binary (default: the serving build, target/serving/release/ner of this
repository)."""
import json
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from bilstm_crf_ner import Tagger

REPO = Path(__file__).resolve().parents[2]
EN = REPO / "models" / "en-conll03"
ZH = REPO / "models" / "zh-resume"


@pytest.fixture(scope="session")
def en_tagger():
    return Tagger.load(EN, threads=2)


@pytest.fixture(scope="session")
def zh_tagger():
    return Tagger.load(ZH, threads=2)


class Server:
    def __init__(self, port):
        self.port = port

    def ner(self, body):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/ner", json.dumps(body).encode(), {"content-type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """`ner serve` with both shipped models on a port the kernel picks."""
    ner = os.environ.get("NER_BIN", str(REPO / "target" / "serving" / "release" / "ner"))
    assert Path(ner).is_file(), f"{ner} is missing: build it (scripts/setup.sh) or set NER_BIN"
    log = tmp_path_factory.mktemp("server") / "log"
    with open(log, "w") as f:
        proc = subprocess.Popen(
            [ner, "serve", "--host", "127.0.0.1", "--port", "0", "--model", str(EN), "--model", f"zh={ZH}"],
            stderr=f,
            stdout=f,
        )
    try:
        port = None
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read_text())
            if m:
                port = int(m.group(1))
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5)
                    break
                except OSError:
                    pass
            time.sleep(0.05)
        assert port is not None and proc.poll() is None, f"the server did not start:\n{log.read_text()}"
        yield Server(port)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def close(a, b, tol=1e-5):
    """Entity lists that are equal, scores within `tol`: a batch's numbers may differ from one
    sentence's in the last bits (the products accumulate in another order)."""
    a = [e if isinstance(e, dict) else e.to_dict() for e in a]
    b = [e if isinstance(e, dict) else e.to_dict() for e in b]
    strip = lambda es: [{k: v for k, v in e.items() if k != "score"} for e in es]
    return strip(a) == strip(b) and all(abs(x["score"] - y["score"]) <= tol for x, y in zip(a, b))
