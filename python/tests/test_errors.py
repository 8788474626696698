"""A missing or damaged model is a clear exception, with the message the CLI prints."""
import shutil
import subprocess

import pytest

from bilstm_crf_ner import ModelError, Tagger

from conftest import EN, ZH


def copy_model(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.svg", "metrics.jsonl"))
    return dst


def test_a_missing_directory_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a model directory"):
        Tagger.load(tmp_path / "nowhere")


def test_an_unknown_model_name_says_what_is_installed():
    with pytest.raises(FileNotFoundError, match="no installed model package of that name"):
        Tagger.load("no-such-model-name")


def test_a_damaged_weights_file_names_the_file(tmp_path):
    model = copy_model(ZH, tmp_path / "zh")
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelError, match="model.safetensors") as e:
        Tagger.load(model)
    assert "corrupted" in str(e.value) or "invalid" in str(e.value)


def test_a_missing_file_names_it(tmp_path):
    model = copy_model(ZH, tmp_path / "zh")
    (model / "vocab.json").unlink()
    with pytest.raises(ModelError, match="vocab.json"):
        Tagger.load(model)


def test_the_message_is_the_clis(tmp_path, server):
    """`ner eval` on the same damaged directory prints the same message."""
    model = copy_model(ZH, tmp_path / "zh")
    (model / "labels.json").write_text("{ not json")
    with pytest.raises(ModelError) as e:
        Tagger.load(model)
    import os
    from conftest import REPO

    ner = os.environ.get("NER_BIN", str(REPO / "target" / "release" / "ner"))
    data = tmp_path / "t.conll"
    data.write_text("x O\n")
    out = subprocess.run([ner, "eval", "--model", str(model), str(data)], capture_output=True, text=True)
    assert out.returncode != 0
    assert str(e.value) in out.stderr


def test_invalid_settings_are_value_errors():
    with pytest.raises(ValueError, match="at least 1"):
        Tagger.load(EN, threads=0)


def test_the_stub_states_the_modules_own_defaults():
    """The stub's defaults are the ones the module (and `ner serve`) use: one constant each."""
    import ast
    from pathlib import Path

    import bilstm_crf_ner
    from bilstm_crf_ner import _native

    stub = Path(bilstm_crf_ner.__file__).with_name("_native.pyi")
    tree = ast.parse(stub.read_text(encoding="utf-8"))
    defaults = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "load":
            args = node.args.args[-len(node.args.defaults):]
            defaults = {a.arg: ast.literal_eval(d) for a, d in zip(args, node.args.defaults)}
    assert defaults["max_sentence_tokens"] == _native.DEFAULT_MAX_SENTENCE_TOKENS == 128
    assert _native.MAX_NBEST == 20
