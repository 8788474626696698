"""Models by name: ``Tagger.load("en-conll03")`` finds an installed model package.

A model package (made by ``scripts/python-model-package.py``) declares an entry point in the
group ``bilstm_crf_ner.models`` whose value is a module holding the model directory; the
directory ``$NER_MODELS_DIR/NAME`` is looked up first.
"""
import os
import sys
from pathlib import Path
from typing import Optional

GROUP = "bilstm_crf_ner.models"


def _entry_points():
    from importlib import metadata

    eps = metadata.entry_points()
    if hasattr(eps, "select"):
        return list(eps.select(group=GROUP))
    return list(eps.get(GROUP, []))  # Python 3.9


def find(name: str) -> Optional[str]:
    """The directory of the model called ``name``, or None."""
    root = os.environ.get("NER_MODELS_DIR")
    if root and (Path(root) / name / "meta.json").is_file():
        return str(Path(root) / name)
    for ep in _entry_points():
        if ep.name == name:
            module = ep.load()
            return str(Path(module.__file__).parent)
    return None


def installed():
    """The names of the installed model packages."""
    return sorted(ep.name for ep in _entry_points())
