"""Writes a benchmark's figures as a JSON result: what was measured, on which machine, from
which commit, when. docs/performance.md is made from the committed results
(scripts/performance-doc.py).

    python3 scripts/lib/result.py KIND FIGURES.json [--binary PATH] [--out FILE]

KIND names the benchmark (bench-server, bench-model, soak-server); FIGURES.json holds its
figures. --binary names the `ner` that was measured: its `--version` (version and commit) is
recorded, and its commit is the result's. Without --out the result goes to $NER_RESULTS_DIR, else benchmarks/results/, as
KIND-DATE-COMMIT.json. Prints the path written.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The instruction sets that the kernels (gemm, libtorch) choose between.
ISA = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile"]


def cpu():
    """CPU model, logical cores and instruction sets, from /proc/cpuinfo where there is one."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    return {"model": model, "cores": os.cpu_count(), "isa": [f for f in ISA if f in flags]}


def memory_gib():
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def git(*args):
    try:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def version():
    for line in open(ROOT / "Cargo.toml"):
        if line.startswith("version"):
            return line.split('"')[1]
    return None


def binary_version(path):
    """`ner --version` of the measured binary: ("ner 0.2.0 (commit abc1234)", "abc1234")."""
    try:
        text = subprocess.run([path, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None, None
    commit = text.split("(commit ")[1].rstrip(")") if "(commit " in text else None
    return text, commit


def result(kind, figures, binary=None):
    commit = git("rev-parse", "--short=7", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    measured, built_from = binary_version(binary) if binary else (None, None)
    if built_from and built_from != "unknown":
        # The binary says what it was built from; the checkout may have moved on since.
        commit, dirty = built_from, False
    return {
        "kind": kind,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": measured.split()[1] if measured and len(measured.split()) > 1 else version(),
        "commit": commit,
        "dirty": dirty,
        "binary": measured,
        "machine": {"cpu": cpu(), "memory_gib": memory_gib(), "os": f"{platform.system()} {platform.release()}"},
        "figures": figures,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind")
    ap.add_argument("figures")
    ap.add_argument("--binary")
    ap.add_argument("--out")
    args = ap.parse_args()
    r = result(args.kind, json.load(open(args.figures)), args.binary)
    out = Path(args.out) if args.out else None
    if out is None:
        d = Path(os.environ.get("NER_RESULTS_DIR") or ROOT / "benchmarks" / "results")
        stamp = r["date"][:10]
        out = d / f"{args.kind}-{stamp}-{r['commit'] or 'unknown'}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(r, indent=2) + "\n")
    tmp.replace(out)
    print(out)


if __name__ == "__main__":
    sys.exit(main())
