#!/usr/bin/env python3
"""Writes the K-quant fixtures of `kquant.rs`' tests: 4 super-blocks (2 rows of 2) of
Q4_K, Q5_K and Q6_K as random bytes with finite, moderate f16 scales, and the `gguf`
Python package's `gguf.quants.dequantize` of them as little-endian f32.

    python3 -m pip install gguf numpy
    python3 generate/src/local/testdata/kquants.py
"""

from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

HERE = Path(__file__).parent
rng = np.random.default_rng(19)


def f16(lo: float, hi: float) -> bytes:
    return np.float16(rng.uniform(lo, hi)).tobytes()


def block(kind: T) -> bytes:
    if kind in (T.Q4_K, T.Q5_K):
        # d, dmin, 12 bytes of packed 6-bit scales and mins, then the quants.
        rest = 144 - 4 if kind == T.Q4_K else 176 - 4
        return f16(0.001, 0.02) + f16(0.0, 0.02) + rng.integers(0, 256, rest, dtype=np.uint8).tobytes()
    # Q6_K: ql[128], qh[64], int8 scales[16], d.
    return (
        rng.integers(0, 256, 192, dtype=np.uint8).tobytes()
        + rng.integers(-128, 128, 16, dtype=np.int8).tobytes()
        + f16(0.0005, 0.005)
    )


for kind, name in [(T.Q4_K, "q4_k"), (T.Q5_K, "q5_k"), (T.Q6_K, "q6_k")]:
    raw = b"".join(block(kind) for _ in range(4))
    data = np.frombuffer(raw, dtype=np.uint8).reshape(2, -1)
    values = dequantize(data, kind).astype("<f4")
    assert values.shape == (2, 512), values.shape
    (HERE / f"{name}.bin").write_bytes(raw)
    (HERE / f"{name}.f32").write_bytes(values.tobytes())
    print(name, len(raw), "bytes,", values.size, "values")
