#!/usr/bin/env python3
"""Writes README.md (the model card) of a trained model directory from its meta.json,
config.json and metrics.jsonl.

    scripts/model-card.py RUN_DIR OUT_DIR --title T --data D [--note TEXT]...
RUN_DIR is the training output (with metrics.jsonl); OUT_DIR receives README.md.
"""
import argparse, json, os, platform, subprocess

ap = argparse.ArgumentParser()
ap.add_argument("run")
ap.add_argument("out")
ap.add_argument("--title", required=True)
ap.add_argument("--data", required=True)
ap.add_argument("--hardware", default=f"{os.cpu_count()} CPU cores ({platform.machine()}), 1 libtorch thread")
ap.add_argument("--note", action="append", default=[])
a = ap.parse_args()
meta = json.load(open(os.path.join(a.run, "meta.json")))
cfg = json.load(open(os.path.join(a.run, "config.json")))
# metrics.jsonl through `ner metrics`, the reader that checks each line against the type
# training writes (a bad line is an error naming the file and line, not a missing value).
NER = os.environ.get("NER_BIN", os.path.join(os.path.dirname(__file__), "..", "target", "release", "ner"))
epochs = json.loads(subprocess.run([NER, "metrics", a.run], check=True, stdout=subprocess.PIPE, text=True).stdout)
m = meta["metrics"]
dev, test = m.get("dev", {}), m.get("test", {})
best = m.get("epoch")
train_s = sum(e["train_seconds"] for e in epochs)
per_epoch = train_s / max(len(epochs), 1)
tr = meta.get("training", {})
opts = tr.get("options", {})

def row(name, d, t):
    f = lambda r, k: f"{r[k]:.2f}" if r else "—"
    return f"| {name} | {f(d, 'precision')} | {f(d, 'recall')} | {f(d, 'f1')} | {f(t, 'precision')} | {f(t, 'recall')} | {f(t, 'f1')} |"

lines = [f"# {a.title}", "", f"Model `{meta['name']}`, created {meta['created']} by ner {meta['ner_version']}.", "",
         "## Data", "", a.data, "",
         f"Training: {tr.get('train_sentences')} sentences, {tr.get('train_tokens')} tokens (files in {tr.get('file_scheme')}; the model tags in {cfg['scheme']}).", "",
         "## Results", "",
         f"Best dev F1 at epoch {best} of {len(epochs)} (early stopping on dev F1, patience {opts.get('patience')}). "
         "Entity-level micro scores as conlleval counts them, in percent:", "",
         "| type | dev P | dev R | dev F1 | test P | test R | test F1 |", "|---|---|---|---|---|---|---|",
         row("**all (micro)**", dev.get("overall"), test.get("overall"))]
for k in sorted(dev.get("per_type", {})):
    lines.append(row(k, dev["per_type"][k], test.get("per_type", {}).get(k)))
lines += ["", f"`ner eval --model models/{os.path.basename(os.path.normpath(a.out))} TEST_FILE` reproduces the test row.", "",
          "## Training", "",
          f"- {len(epochs)} epochs, {per_epoch:.1f} s per epoch on average ({train_s / 60:.1f} min of training in all) on {a.hardware}.",
          f"- Optimiser {opts.get('optimizer')} lr {opts.get('lr') or 'default'} (decay {opts.get('lr_decay') if opts.get('lr_decay') is not None else ('0.05' if opts.get('optimizer') == 'sgd' else '0')}), momentum {opts.get('momentum')}, "
          f"gradient-norm clip {opts.get('clip')}, batch {opts.get('batch_size')}, seed {opts.get('seed')}"
          + (f"; the weights evaluated and saved are their exponential moving average (decay {opts['ema']})" if opts.get("ema") else "") + ".",
          f"- Architecture: word {cfg['word_dim']}"
          + (f" (+ frozen subword vectors {cfg['subword_dim']}, {cfg.get('subword_source')})" if cfg.get("subword_dim") else "")
          + f", char encoder {cfg['char_encoder']}"
          + (f" ({cfg['char_dim']}/{cfg['char_filters']})" if cfg['char_encoder'] == 'cnn' else "")
          + f", casing {cfg['casing_dim']}"
          + (f", character bigrams {cfg['bigram_dim']} (left and right, so {2 * cfg['bigram_dim']} features)" if cfg.get("bigram_dim") else "")
          + f", {cfg['layers']} x Bi{cfg['cell'].upper()} {cfg['hidden']} per direction, dropout {cfg['dropout']} ({cfg['dropout_kind']}), "
          f"word dropout {cfg['word_dropout']}, CRF over {cfg['scheme'].upper()} tags; tokenisation `{cfg['tokenization']}`.",
          "", "Command:", "", "```sh", tr.get("command", "").replace(os.getcwd() + "/", ""), "```"]
for n in a.note:
    lines += ["", n]
open(os.path.join(a.out, "README.md"), "w").write("\n".join(lines) + "\n")
print(os.path.join(a.out, "README.md"))
