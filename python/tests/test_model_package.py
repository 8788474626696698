"""A shipped model installed as a Python package loads by name from anywhere."""
import subprocess
import sys

from conftest import REPO, ZH


def test_an_installed_model_package_loads_by_name(tmp_path):
    out = tmp_path / "pkg"
    script = REPO / "scripts" / "python-model-package.py"
    subprocess.run([sys.executable, str(script), str(ZH), "--out", str(out)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", str(out)], check=True)
    try:
        code = (
            "from bilstm_crf_ner import Tagger; t = Tagger.load('zh-resume'); "
            "print(t.name, [e.label for e in t.tag('李四毕业于清华大学。')])"
        )
        # From a folder that holds no model: the package is found through its entry point.
        run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("zh-resume ["), run.stdout
        assert "ORG" in run.stdout
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", "bilstm-crf-ner-model-zh-resume"], check=True)
