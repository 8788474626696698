"""scripts/spacy-vectors.py against spaCy itself: a vocabulary that spaCy writes, read back by
the script (which needs numpy alone) into the exact GloVe text a hand computation gives."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

spacy = pytest.importorskip("spacy")
from spacy.strings import hash_string  # noqa: E402
from spacy.vectors import Vectors  # noqa: E402
from spacy.vocab import Vocab  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "spacy-vectors.py"


def write_vocab(path, table, keys):
    """A spaCy vocab/ folder whose vectors are `table`, each key mapped to its row."""
    vocab = Vocab()
    vocab.vectors = Vectors(data=np.asarray(table, dtype=np.float32))
    for key, row in keys.items():
        vocab.strings.add(key)
        vocab.vectors.add(key, row=row)
    vocab.to_disk(path)
    return path


def convert(tmp_path, vocab_dir, words, *flags):
    conll = tmp_path / "words.conll"
    conll.write_text("-DOCSTART- -X- O\n\n" + "".join(f"{w} NNP O\n" for w in words) + "\n")
    out = tmp_path / "out.txt"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(vocab_dir), str(out), "--words", str(conll), *flags],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    return out.read_text(), done.stderr


@pytest.mark.parametrize("text", ["", "a", "Paris", "ünïcödé", "twelve bytes", "sixteen bytes!!!", "日本語のテキスト"])
def test_the_scripts_murmurhash_is_spacys(text):
    spec = importlib.util.spec_from_file_location("spacy_vectors", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.murmurhash64a(text.encode("utf-8")) == hash_string(text)


def test_rows_shared_by_several_keys_and_lower_cased_lookup(tmp_path):
    table = [[1, 2, 3], [4, 5, 6], [0.5, -0.25, 8]]
    vocab_dir = write_vocab(tmp_path / "vocab", table, {"Paris": 0, "paris": 0, "berlin": 1, "the": 2})
    words = ["The", "Paris", "BERLIN", "Berlin", "Nowhere", "Paris", "the"]
    out, log = convert(tmp_path, vocab_dir, words, "--sd", "0")
    # First-seen order, each word once; `The` and `Berlin` found lower-cased, `BERLIN`'s lower
    # case is `berlin` too; `Nowhere` has no vector.
    assert out == "The 0.5 -0.25 8\nParis 1 2 3\nBERLIN 4 5 6\nBerlin 4 5 6\nthe 0.5 -0.25 8\n"
    assert "5 of 6 words have vectors" in log


def test_principal_components_and_rescaling(tmp_path):
    # The rows vary along (3, 4)/5 only, around the mean (1, 1): the first principal
    # component of row r is its signed distance from the mean along that axis.
    table = [[1 + 3, 1 + 4], [1 - 3, 1 - 4], [1, 1]]
    vocab_dir = write_vocab(tmp_path / "vocab", table, {"up": 0, "down": 1, "middle": 2})
    out, _ = convert(tmp_path, vocab_dir, ["up", "down", "middle"], "--dim", "1", "--sd", "0")
    assert out == "up 5\ndown -5\nmiddle 0\n"
    # --sd rescales the written rows to that per-dimension standard deviation (population sd
    # of 5, -5, 0 is sqrt(50/3)).
    out, _ = convert(tmp_path, vocab_dir, ["up", "down"], "--dim", "1", "--sd", "0.5")
    assert out == "up 0.5\ndown -0.5\n"
