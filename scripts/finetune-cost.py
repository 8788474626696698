#!/usr/bin/env python3
"""What fine-tuning the accurate model's transformer would cost per epoch, measured.

The accurate model (models/en-conll03-ctx) reads the hidden states of layers 1-4 of
all-MiniLM-L6-v2, frozen: one forward pass over the training set, computed once. Fine-tuning
runs the transformer forward and backward at every step of every epoch. This script counts the
word pieces of a training file as the model packs them (sequences of up to 254 pieces plus
[CLS] and [SEP]), then times, on libtorch at the given thread count, a forward pass without
gradients (what training does once today) and a forward and backward pass with every weight of
layers 1-N trainable, on batches of sequences of the training set's mean length, and prints
the extrapolated time per epoch of the transformer alone.

    scripts/finetune-cost.py MINILM_DIR TRAIN.conll [--layers 4] [--threads 1] [--batches 8]

Needs torch, safetensors and tokenizers (the training environment of scripts/setup.sh).
"""
import argparse
import json
import math
import os
import time

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer

MAX_SEQUENCE = 254


def documents(path):
    """Each document's words, in order (-DOCSTART- lines separate documents)."""
    docs, words = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == "-DOCSTART-":
                if words:
                    docs.append(words)
                words = []
            elif fields:
                words.append(fields[0])
    if words:
        docs.append(words)
    return docs


def sequences(docs, tokenizer):
    """Lengths of the sequences the model reads: each document's pieces in runs of 254."""
    lengths = []
    for words in docs:
        pieces = sum(len(e.ids) for e in tokenizer.encode_batch(words, add_special_tokens=False))
        full, rest = divmod(pieces, MAX_SEQUENCE)
        lengths += [MAX_SEQUENCE + 2] * full + ([rest + 2] if rest else [])
    return lengths


class Bert(torch.nn.Module):
    """BERT's embeddings and first `layers` layers (post-LayerNorm, GELU), MiniLM's weights."""

    def __init__(self, weights, config, layers):
        super().__init__()
        self.w = torch.nn.ParameterDict(
            {k.replace(".", "_"): torch.nn.Parameter(v.float()) for k, v in weights.items()}
        )
        self.heads, self.layers = config["num_attention_heads"], layers

    def p(self, name):
        return self.w[name.replace(".", "_")]

    def linear(self, x, name):
        return torch.nn.functional.linear(x, self.p(name + ".weight"), self.p(name + ".bias"))

    def norm(self, x, name):
        return torch.nn.functional.layer_norm(
            x, x.shape[-1:], self.p(name + ".weight"), self.p(name + ".bias"), 1e-12
        )

    def forward(self, ids):
        b, n = ids.shape
        x = self.p("embeddings.word_embeddings.weight")[ids] + self.p("embeddings.position_embeddings.weight")[:n]
        x = self.norm(x + self.p("embeddings.token_type_embeddings.weight")[0], "embeddings.LayerNorm")
        for i in range(self.layers):
            a = f"encoder.layer.{i}."
            d = x.shape[-1]
            split = lambda t: t.view(b, n, self.heads, d // self.heads).transpose(1, 2)
            q, k, v = (split(self.linear(x, a + "attention.self." + m)) for m in ("query", "key", "value"))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // self.heads), -1) @ v
            att = self.linear(att.transpose(1, 2).reshape(b, n, d), a + "attention.output.dense")
            x = self.norm(x + att, a + "attention.output.LayerNorm")
            h = torch.nn.functional.gelu(self.linear(x, a + "intermediate.dense"))
            x = self.norm(x + self.linear(h, a + "output.dense"), a + "output.LayerNorm")
        return x


def timed(step, batches):
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(batches):
        step()
    return (time.perf_counter() - start) / batches


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("minilm", help="the transformer's directory (config.json, model.safetensors, tokenizer.json)")
    ap.add_argument("train", help="the training file (CoNLL)")
    ap.add_argument("--layers", type=int, default=4, help="layers read (and fine-tuned)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", type=int, default=8, help="batches timed per measurement")
    ap.add_argument("--batch", type=int, default=4, help="sequences per batch")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    config = json.load(open(os.path.join(args.minilm, "config.json")))
    tokenizer = Tokenizer.from_file(os.path.join(args.minilm, "tokenizer.json"))
    tokenizer.no_padding()  # the file pads every input to a fixed length
    tokenizer.no_truncation()
    lengths = sequences(documents(args.train), tokenizer)
    pieces, mean = sum(lengths), round(sum(lengths) / len(lengths))
    model = Bert(load_file(os.path.join(args.minilm, "model.safetensors")), config, args.layers)
    for name, p in model.w.items():
        p.requires_grad_(name.startswith("encoder_layer_"))
    ids = torch.randint(1000, config["vocab_size"], (args.batch, mean))
    with torch.no_grad():
        frozen = timed(lambda: model(ids), args.batches)

    def train_step():
        model.zero_grad(set_to_none=True)
        model(ids).square().mean().backward()

    tuned = timed(train_step, args.batches)
    per_epoch = lambda seconds: seconds / (args.batch * mean) * pieces / 60
    print(json.dumps({
        "sequences": len(lengths), "pieces": pieces, "mean_sequence": mean,
        "layers": args.layers, "threads": args.threads, "torch": torch.__version__,
        "frozen_forward_min_per_epoch": round(per_epoch(frozen), 2),
        "finetune_forward_backward_min_per_epoch": round(per_epoch(tuned), 2),
    }))


if __name__ == "__main__":
    main()
