#!/usr/bin/env python3
"""Makes docs/performance.md from the benchmark results in benchmarks/results/*.json (written by
scripts/bench-model.sh, bench-server.sh and soak-server.sh through scripts/lib/result.py).

    scripts/performance-doc.py           rewrite docs/performance.md
    scripts/performance-doc.py --check   exit 1 if docs/performance.md is not what the results give

Each section shows the newest result of its kind, with its machine, commit and date; every
result is listed at the end. Python 3 alone.
"""
import argparse
import difflib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOC = ROOT / "docs" / "performance.md"


def load():
    out = []
    for p in sorted(RESULTS.glob("*.json")):
        r = json.loads(p.read_text())
        r["file"] = p.name
        out.append(r)
    return out


def machine(r):
    c = r["machine"]["cpu"]
    isa = ", ".join(c["isa"]) or "no SIMD flags read"
    return f"{c['model']}, {c['cores']} cores ({isa}), {r['machine']['memory_gib']} GiB"


def provenance(r):
    dirty = " plus uncommitted changes" if r.get("dirty") else ""
    return (f"Measured {r['date'][:10]} on {machine(r)}; version {r['version']}, commit "
            f"`{r['commit']}`{dirty}. Source: [`{r['file']}`](../benchmarks/results/{r['file']}).")


def n(v, digits=0):
    return "" if v is None else f"{v:,.{digits}f}"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def model_section(r):
    f = r["figures"]
    fresh = f["fresh_model"]
    backends = list(fresh["inference_tokens_per_s"])
    ref = fresh["reference_inference_tokens_per_s"]
    rows = []
    for bs in sorted(ref, key=int):
        vals = [fresh["inference_tokens_per_s"][b].get(bs) for b in backends]
        ratio = [f"{v / ref[bs]:.2f}x" if v and ref[bs] else "" for v in vals]
        rows.append([f"inference tokens/s, batch {bs}", *map(n, vals), n(ref[bs]), *ratio])
    lat = fresh["latency_per_sentence_batch_1_ms"]
    rows.append(["latency per sentence at batch 1, ms", *(n(lat.get(b), 3) for b in backends),
                 n(lat.get("reference"), 3), *(f"{lat['reference'] / lat[b]:.2f}x lower" if lat.get(b) else "" for b in backends)])
    l15 = fresh["latency_15_tokens_ms"]
    rows.append(["latency of one 15-token sentence, ms", *(n(l15.get(b), 3) for b in backends), "", *([""] * len(backends))])
    ep = fresh["train_epoch_batch_10_s"]
    rows.append(["training epoch at batch 10, s", n(ep["ours"], 1), *([""] * (len(backends) - 1)), n(ep["reference"], 1),
                 f"{ep['reference'] / ep['ours']:.2f}x faster", *([""] * (len(backends) - 1))])
    out = ["## Model speed against the PyTorch reference", "",
           "`scripts/bench-model.sh`: a fresh model of the default configuration and the straightforward "
           "PyTorch BiLSTM-CRF, side by side in one run; inference on the "
           f"{f['test_set']} set with {f['inference_threads']} threads, training with {f['training_threads']} "
           "(the training epoch runs on libtorch).", "",
           table(["measurement", *backends, "PyTorch reference", *(f"{b} / reference" for b in backends)], rows), ""]
    if f.get("shipped_models"):
        out += ["The shipped models, same run (each sentence tagged alone; the English models on the CoNLL-2003 test set, zh-resume on Resume NER's):", "",
                table(["model", "backend", "tokens/s, batch 1", "tokens/s, batch 32", "one 15-token sentence, ms"],
                      [[m, b, n(v.get("batch_1_tokens_per_s")), n(v.get("batch_32_tokens_per_s")), n(v.get("latency_15_tokens_ms"), 3)]
                       for m, backends in f["shipped_models"].items() for b, v in backends.items()]), ""]
    return out + [provenance(r), ""]


RUNS = {"one15_c1": "one {sentence}-token sentence, concurrency 1", "mix_c1": "mix, concurrency 1",
        "mix_c16": "mix, concurrency 16", "mix_c64": "mix, concurrency 64"}


def server_section(r):
    f = r["figures"]
    builds = f["builds"]
    this = builds["this"]
    rounds = len(this["rounds"])
    tokens = this["rounds"][0]["tokens_per_request"]
    rows = []
    for run, label in RUNS.items():
        for name, b in builds.items():
            m = b["median"][run]
            rows.append([label.format(**tokens), name, n(m["requests_per_s"]), n(m["tokens_per_s"]), n(m["p50_ms"], 2), n(m["p99_ms"], 2)])
        if "ratio" in f:
            q = f["ratio"][run]
            rows.append(["", "this / baseline", "", f"{q['tokens_per_s']:.3f}x", f"{q['p50_ms']:.3f}x", f"{q['p99_ms']:.3f}x"])
    out = ["## The service under load", "",
           f"`scripts/bench-server.sh`: wrk on the same machine against `ner serve --model {f['model']}` "
           f"({f['backend']} backend, {f['server_threads']} threads), {f['duration_s']:.0f} s per load; a mix of single "
           f"sentences and paragraphs ({tokens['mix']:.1f} tokens per request) and one {tokens['sentence']}-token sentence. "
           f"Medians of {rounds} round(s)" + (", the two builds alternating" if "baseline" in builds else "") + ".", "",
           table(["load", "build", "requests/s", "tokens/s", "p50 ms", "p99 ms"], rows), ""]
    for name, b in builds.items():
        m = b["median"]
        out.append(f"- {name} (`{b['binary']}`): the model threads took {100 * m['model_threads_cpu_share_c64']:.0f}% of "
                   f"the server's CPU at concurrency 64; peak RSS {m['peak_rss_mib']:.0f} MiB; ready "
                   f"{m['startup_ms']:.0f} ms after start.")
    return out + ["", provenance(r), ""]


def soak_section(r):
    f = r["figures"]
    per = ", ".join(f"{v:.0f}" for v in f["rss_mib_per_minute"])
    errors = f["non_2xx"]
    return ["## Memory under a soak", "",
            f"`scripts/soak-server.sh`: {f['clients']} clients send texts of 1 to 3,000 random words to "
            f"`ner serve --model {f['model']}` ({f['backend']} backend) for {f['minutes']} minutes.", "",
            table(["requests", "errors", "RSS per minute, MiB", "first-quarter max", "last-quarter max", "ratio"],
                  [[n(f["requests"]), errors, per, f"{f['first_quarter_max_mib']:.0f} MiB",
                    f"{f['last_quarter_max_mib']:.0f} MiB", f"{f['ratio']:.3f}"]]), "",
            provenance(r), ""]


def python_section(r):
    f = r["figures"]
    names = {"module": "`bilstm_crf_ner.Tagger`", "component": "our spaCy component", "spacy": "spaCy"}
    rows = [[names[x["system"]], x["model"], x["threads"], n(x["batch_1_tokens_per_s"]), n(x["batch_32_tokens_per_s"]),
             n(x["peak_rss_mib"]), f"{x['f1']:.2f}"] for x in f["runs"]]
    return ["## From Python, against spaCy", "",
            "`scripts/bench-python.sh`: each system in its own process on the "
            f"{f['test_set']} (each sentence its words joined by spaces; entity F1 over exact character spans, "
            "spaCy's OntoNotes labels mapped onto CoNLL's). Our F1 here is below the model card's because each "
            "sentence is tagged alone, without its document.", "",
            table(["system", "model", "threads", "tokens/s, batch 1", "tokens/s, batch 32", "peak RSS, MiB", "F1"], rows), "",
            f"The wheel `{f['wheel']}` is {f['wheel_mib']:.1f} MiB and installed into a fresh venv in {f['install_s']:.1f} s.", "",
            provenance(r), ""]


SECTIONS = {"bench-model": model_section, "bench-server": server_section, "soak-server": soak_section,
            "bench-python": python_section}


def render(results):
    out = ["# Performance", "",
           "<!-- Generated by scripts/performance-doc.py from benchmarks/results/*.json; do not edit. -->", "",
           "Every figure here comes from a JSON result in `benchmarks/results/`, written by the script "
           "named in its section, with the machine, version, commit and date it was measured on. Speed "
           "varies between machines and, on small shared machines, by 10-30% between runs: the ratios "
           "measured side by side in one run are what carries over; absolute figures hold for their "
           "machine. To measure your own machine, run the scripts; each writes a new result "
           "(`NER_RESULTS_DIR` moves them), and this page is remade with `scripts/performance-doc.py`.", ""]
    for kind, section in SECTIONS.items():
        newest = [r for r in results if r["kind"] == kind]
        if newest:
            out += section(max(newest, key=lambda r: r["date"]))
    out += ["## Every result", "", table(["result", "kind", "date", "commit", "machine"],
            [[f"[`{r['file']}`](../benchmarks/results/{r['file']})", r["kind"], r["date"][:10], f"`{r['commit']}`", machine(r)]
             for r in sorted(results, key=lambda r: r["date"], reverse=True)]), ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    text = render(load())
    if args.check:
        have = DOC.read_text() if DOC.exists() else ""
        if have != text:
            sys.stdout.writelines(difflib.unified_diff(have.splitlines(True), text.splitlines(True), "docs/performance.md", "from the results"))
            print("docs/performance.md does not match benchmarks/results: run scripts/performance-doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(DOC)
    return 0


if __name__ == "__main__":
    sys.exit(main())
