"""The normative Laplace tables of codec v2 (SPEC.md section 6.3), committed as integers.

A latent q is coded as r = q - m against table (s, f): m is the integer part of the predicted mean, f its
fraction bin, s the bin of its predicted log-scale. Table (s, f) holds the frequencies of r in [-ALPHABET_HALF,
ALPHABET_HALF] under a Laplace of mean FRACTION_CENTRE(f) and scale exp(LOG_SCALE_MIN + s * LOG_SCALE_STEP):

    freq(r) = max(FREQ_FLOOR, round(2^24 * (F(r + 1/2) - F(r - 1/2))))

with F the Laplace CDF. The floor keeps every residual codable and also bounds the probability of the likeliest
one, so that a symbol costs at least MIN_SYMBOL_BITS: a stream of n bytes cannot hold more than
LATENTS_PER_STREAM_BIT x (8 n + 64) latents, which lets the decoder refuse a tiny file that claims a huge image
before doing any work. The numbers are computed once by `build_tables` and committed (laplace_v2.npy), because
exp() may differ in the last bit between platforms and the decoder must not.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

N_SCALES = 64
LOG_SCALE_MIN = -3.0
LOG_SCALE_STEP = 0.125
LOG_SCALE_MAX = LOG_SCALE_MIN + (N_SCALES - 1) * LOG_SCALE_STEP
N_FRACTIONS = 8
ALPHABET_HALF = 255
ALPHABET = 2 * ALPHABET_HALF + 1
N_TABLES = N_SCALES * N_FRACTIONS
PRECISION_BITS = 24
FREQ_FLOOR = 4
# 1 / MIN_SYMBOL_BITS rounded up, with MIN_SYMBOL_BITS the smallest -log2 probability in any table (checked by
# the tests against the committed tables)
LATENTS_PER_STREAM_BIT = 3405
TABLE_PATH = Path(__file__).with_name("laplace_v2.npy")


def fraction_centre(f: int) -> float:
    """Mean of table fraction bin f in [0, N_FRACTIONS): bins of width 1/8 over [-1/2, 1/2)."""
    return (f + 0.5) / N_FRACTIONS - 0.5


def table_scale(s: int) -> float:
    return math.exp(LOG_SCALE_MIN + s * LOG_SCALE_STEP)


def _cdf(x: float, mean: float, b: float) -> float:
    z = (x - mean) / b
    return 0.5 * math.exp(z) if z < 0 else 1.0 - 0.5 * math.exp(-z)


def build_tables() -> np.ndarray:
    """[N_TABLES, ALPHABET] uint32 from the formula; table index = s * N_FRACTIONS + f."""
    out = np.zeros((N_TABLES, ALPHABET), dtype=np.uint32)
    for s in range(N_SCALES):
        b = table_scale(s)
        for f in range(N_FRACTIONS):
            mean = fraction_centre(f)
            edges = [_cdf(r - 0.5, mean, b) for r in range(-ALPHABET_HALF, ALPHABET_HALF + 2)]
            for k in range(ALPHABET):
                out[s * N_FRACTIONS + f, k] = max(FREQ_FLOOR, round(2**PRECISION_BITS * (edges[k + 1] - edges[k])))
    return out


@lru_cache(maxsize=1)
def tables() -> np.ndarray:
    """The committed tables: [N_TABLES, ALPHABET] uint32."""
    return np.load(TABLE_PATH)


@lru_cache(maxsize=1)
def table_bits() -> np.ndarray:
    """Ideal cost of each residual under each table, in bits: [N_TABLES, ALPHABET] float64."""
    freq = tables().astype(np.float64)
    return -np.log2(freq / freq.sum(axis=1, keepdims=True))
