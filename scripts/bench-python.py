#!/usr/bin/env python3
"""One system of the Python benchmark (run by scripts/bench-python.sh, one process per system so
that each peak RSS is its own): tags the CoNLL-2003 test set with gold tokens at batch 1 and 32,
and prints one JSON line with tokens/s, peak RSS and entity F1.

    bench-python.py SYSTEM TEST_FILE [--model DIR] [--threads N] [--repeats R]

SYSTEM: module (bilstm_crf_ner.Tagger), component (our spaCy component in a blank English
pipeline), spacy (a spaCy pipeline at --model, its tok2vec and ner alone). Gold tokens: each
sentence is its words joined by single spaces (and a spaCy Doc of those words). F1 is
micro-averaged over exact (start, end, label) character spans; spaCy's OntoNotes labels are
mapped onto CoNLL's (PERSON: PER; GPE, LOC, FAC: LOC; ORG: ORG; NORP, EVENT, WORK_OF_ART, LAW,
LANGUAGE, PRODUCT: MISC; the numeric and temporal types dropped).
"""
import argparse
import json
import resource
import sys
import time

ONTONOTES = {"PERSON": "PER", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC", "ORG": "ORG", "NORP": "MISC",
             "EVENT": "MISC", "WORK_OF_ART": "MISC", "LAW": "MISC", "LANGUAGE": "MISC", "PRODUCT": "MISC"}


def read_conll(path):
    """Sentences as (words, gold spans (start, end, label) in the space-joined text)."""
    out, words, tags = [], [], []

    def flush():
        if words:
            spans, at, open_ = [], 0, None
            for w, t in zip(words, tags + ["O"]):
                if open_ and (t == "O" or t.startswith("B-") or t[2:] != open_[2]):
                    spans.append(tuple(open_))
                    open_ = None
                if t != "O" and open_ is None:
                    open_ = [at, at + len(w), t[2:]]
                elif open_ is not None:
                    open_[1] = at + len(w)
                at += len(w) + 1
            if open_:
                spans.append(tuple(open_))
            out.append((list(words), set(spans)))
        words.clear()
        tags.clear()

    for line in open(path, encoding="utf-8"):
        cols = line.split()
        if not cols or cols[0] == "-DOCSTART-":
            flush()
            continue
        words.append(cols[0])
        tags.append(cols[-1])
    flush()
    return out


def f1(gold, pred):
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    n_gold, n_pred = sum(map(len, gold)), sum(map(len, pred))
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return 100 * (2 * p * r / (p + r) if p + r else 0.0)


def system(name, model, threads):
    """A function from a list of word lists to a list of predicted span sets."""
    if name == "module":
        from bilstm_crf_ner import Tagger

        tagger = Tagger.load(model, threads=threads)

        def run(batch):
            texts = [" ".join(ws) for ws in batch]
            found = tagger.tag_batch(texts) if len(texts) > 1 else [tagger.tag(texts[0])]
            return [{(e.start, e.end, e.label) for e in es} for es in found]

        return run
    import spacy
    from spacy.tokens import Doc

    if name == "component":
        nlp = spacy.blank("en")
        nlp.add_pipe("bilstm_crf_ner", config={"model": model, "threads": threads})
        mapping = None
    else:
        nlp = spacy.load(model, exclude=[p for p in ("tagger", "parser", "attribute_ruler", "lemmatizer", "senter")])
        mapping = ONTONOTES

    def run(batch):
        docs = [Doc(nlp.vocab, words=ws, spaces=[True] * (len(ws) - 1) + [False]) for ws in batch]
        out = []
        for d in nlp.pipe(docs, batch_size=len(batch)):
            spans = set()
            for e in d.ents:
                label = e.label_ if mapping is None else mapping.get(e.label_)
                if label:
                    spans.add((e.start_char, e.end_char, label))
            out.append(spans)
        return out

    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("system", choices=["module", "component", "spacy"])
    ap.add_argument("test")
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    data = read_conll(args.test)
    words = [ws for ws, _ in data]
    n_tokens = sum(map(len, words))
    run = system(args.system, args.model, args.threads)
    run(words[:64])  # warm-up
    result = {"system": args.system, "model": args.model, "threads": args.threads, "sentences": len(words), "tokens": n_tokens}
    for bs in (1, 32):
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            pred = []
            for i in range(0, len(words), bs):
                pred.extend(run(words[i : i + bs]))
            times.append(time.perf_counter() - t0)
        result[f"batch_{bs}_tokens_per_s"] = round(n_tokens / sorted(times)[len(times) // 2])
        result["f1"] = round(f1([g for _, g in data], pred), 2)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
