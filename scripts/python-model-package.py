#!/usr/bin/env python3
"""Makes a shipped model directory a Python package, the way spaCy ships its pipelines, so that
``Tagger.load("NAME")`` finds it from anywhere once installed.

    scripts/python-model-package.py MODEL_DIR [--out DIR] [--install]

Writes DIR (default: a temporary folder) with a pyproject.toml and the package
``bilstm_crf_ner_model_<name>`` holding the model's files, and declares it in the entry-point
group ``bilstm_crf_ner.models`` under the model's name (from its meta.json). --install runs
``python -m pip install DIR`` with this Python. Python 3 alone (pip and setuptools to install).
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MODEL_FILES = ("*.json", "*.safetensors", "README.md")


def package(model: Path, out: Path) -> str:
    meta_path = model / "meta.json"
    if not meta_path.is_file():
        sys.exit(f"{model}: not a model directory (no meta.json)")
    meta = json.loads(meta_path.read_text())
    name = meta["name"]
    module = "bilstm_crf_ner_model_" + re.sub(r"\W", "_", name)
    version = meta.get("ner_version", "0.0.0")
    pkg = out / module
    pkg.mkdir(parents=True, exist_ok=True)
    for pattern in MODEL_FILES:
        for f in model.glob(pattern):
            shutil.copy2(f, pkg / f.name)
    (pkg / "__init__.py").write_text(f'"""The model {name} for bilstm_crf_ner: Tagger.load("{name}")."""\n')
    (out / "pyproject.toml").write_text(f"""[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{module.replace('_', '-')}"
version = "{version}"
description = "The ner model {name} for bilstm_crf_ner (see its README.md for data, licence and evaluation)"
requires-python = ">=3.9"

[project.entry-points."bilstm_crf_ner.models"]
{json.dumps(name)} = "{module}"

[tool.setuptools]
packages = ["{module}"]

[tool.setuptools.package-data]
{module} = ["*.json", "*.safetensors", "README.md"]
""")
    return name


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--install", action="store_true")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="ner-model-"))
    name = package(args.model, out)
    print(f"{name}: package in {out}")
    if args.install:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", str(out)], check=True)
        print(f'{name}: installed; Tagger.load("{name}") finds it')
        if not args.out:
            shutil.rmtree(out)


if __name__ == "__main__":
    main()
