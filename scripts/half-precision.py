#!/usr/bin/env python3
"""Stores a model directory's weights (model.safetensors) in half precision, in place, to halve
the size of shipped models. The loader converts them back to fp32; on the shipped models the
predictions, and so `ner eval`'s scores, are the same as with the fp32 weights (their cards
say so).

    scripts/half-precision.py MODEL_DIR     # needs numpy and safetensors
"""
import os
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

path = os.path.join(sys.argv[1], "model.safetensors")
tensors = load_file(path)
half = {k: v.astype(np.float16) if v.dtype == np.float32 else v for k, v in tensors.items()}
tmp = path + ".tmp"
save_file(half, tmp)
os.chmod(tmp, 0o644)
os.replace(tmp, path)
print(f"{path}: {len(half)} tensors in half precision, {os.path.getsize(path)} bytes")
