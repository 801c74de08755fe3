"""The v1 entropy coder of video files: groups of integer symbols, each under one normative Laplace table
(constriction ANS).

Every probability the decoder uses comes from `laplace_table()` (integers, committed next to this module in
laplace_table.npy) indexed by a byte in the file, so entropy decoding is bit-exact on any machine. Knows nothing
of networks.

Table j (0 <= j < N_TABLES) is a zero-mean Laplace of scale b_j = 2^((j - 20) / 4) quantisation steps over the
alphabet -MAX_SYMBOL..MAX_SYMBOL: freq_j(s) = max(1, round((F(s + 1/2) - F(s - 1/2)) * 2^24)), F the Laplace CDF.
Table index ALL_ZERO marks a group whose symbols are all 0: nothing is coded for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from inrcodec.video.v1.header import ALL_ZERO, MAX_SYMBOL, N_TABLES

TABLE_PRECISION_BITS = 24
TABLE_PATH = Path(__file__).parent / "laplace_table.npy"


def laplace_scale(table_index: int) -> float:
    """Scale b_j of table j, in quantisation steps."""
    return 2.0 ** ((table_index - 20) / 4)


def build_laplace_table() -> np.ndarray:
    """The normative table from its formula: [N_TABLES, 2 * MAX_SYMBOL + 1] uint32 frequencies."""
    symbols = np.arange(-MAX_SYMBOL, MAX_SYMBOL + 1, dtype=np.float64)
    rows = []
    for j in range(N_TABLES):
        b = laplace_scale(j)
        upper = np.array([_laplace_cdf(s + 0.5, b) for s in symbols])
        lower = np.array([_laplace_cdf(s - 0.5, b) for s in symbols])
        freq = np.maximum(1, np.round((upper - lower) * 2**TABLE_PRECISION_BITS))
        rows.append(freq.astype(np.uint32))
    return np.stack(rows)


def _laplace_cdf(x: float, b: float) -> float:
    return 0.5 * math.exp(x / b) if x < 0 else 1.0 - 0.5 * math.exp(-x / b)


@lru_cache(maxsize=1)
def laplace_table() -> np.ndarray:
    """The committed table: [N_TABLES, 2 * MAX_SYMBOL + 1] uint32."""
    return np.load(TABLE_PATH)


@lru_cache(maxsize=1)
def _table_bits() -> np.ndarray:
    """Cost of each symbol under each table, in bits: [N_TABLES, alphabet] float64."""
    table = laplace_table().astype(np.float64)
    return -np.log2(table / table.sum(axis=1, keepdims=True))


@dataclass(frozen=True)
class SymbolGroup:
    """A run of integer symbols in [-MAX_SYMBOL, MAX_SYMBOL] coded with one table (or ALL_ZERO)."""

    symbols: np.ndarray
    table_index: int


def group_bits(symbols: np.ndarray, table_index: int) -> float:
    """Ideal code length of `symbols` under a table, in bits (the coder adds a few bits in all)."""
    if table_index == ALL_ZERO:
        return 0.0
    counts = np.bincount(symbols.ravel() + MAX_SYMBOL, minlength=2 * MAX_SYMBOL + 1)
    return float(counts @ _table_bits()[table_index])


def best_group(symbols: np.ndarray) -> SymbolGroup:
    """The table that codes `symbols` in the fewest bits; ALL_ZERO when every symbol is 0."""
    symbols = np.asarray(symbols, dtype=np.int32).ravel()
    if symbols.size == 0 or not symbols.any():
        return SymbolGroup(symbols, ALL_ZERO)
    if np.abs(symbols).max() > MAX_SYMBOL:
        raise ValueError(f"symbol magnitude exceeds {MAX_SYMBOL}")
    counts = np.bincount(symbols + MAX_SYMBOL, minlength=2 * MAX_SYMBOL + 1)
    return SymbolGroup(symbols, int(np.argmin(_table_bits() @ counts)))


@lru_cache(maxsize=N_TABLES)
def _model(table_index: int):
    import constriction

    return constriction.stream.model.Categorical(laplace_table()[table_index].astype(np.float64), perfect=False)


def _check_table_index(table_index: int) -> None:
    if table_index != ALL_ZERO and not 0 <= table_index < N_TABLES:
        raise ValueError(f"entropy table index {table_index} is out of range")


# Two uniform 16-bit symbols coded before everything else, so they are decoded last: a decoder that used a wrong
# table or count, or read garbage, ends on other values.
TERMINATOR = (0x494E, 0x5243)


def _terminator_model():
    import constriction

    return constriction.stream.model.Uniform(1 << 16)


class SymbolEncoder:
    """Collects (symbols, table) chunks in decoding order; `to_bytes` ANS-codes them into one stream."""

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, int]] = []

    def add(self, symbols: np.ndarray, table_index: int) -> None:
        symbols = np.asarray(symbols, dtype=np.int32).ravel()
        _check_table_index(table_index)
        if table_index == ALL_ZERO:
            if symbols.any():
                raise ValueError("non-zero symbols in a group marked all-zero")
            return
        if symbols.size and np.abs(symbols).max() > MAX_SYMBOL:
            raise ValueError(f"symbol magnitude exceeds {MAX_SYMBOL}")
        if symbols.size:
            self._chunks.append((symbols, table_index))

    def to_bytes(self) -> bytes:
        """Little-endian uint32 words of the ANS stream."""
        import constriction

        coder = constriction.stream.stack.AnsCoder()
        coder.encode_reverse(np.array(TERMINATOR, dtype=np.int32), _terminator_model())
        for symbols, table_index in reversed(self._chunks):
            coder.encode_reverse(symbols + MAX_SYMBOL, _model(table_index))
        return coder.get_compressed().astype("<u4").tobytes()


class SymbolDecoder:
    """Pulls symbols from a stream written by SymbolEncoder, chunk by chunk, in the same order."""

    def __init__(self, data: bytes) -> None:
        import constriction

        if len(data) % 4:
            raise ValueError("entropy-coded payload is not a whole number of 32-bit words")
        words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
        self._coder = constriction.stream.stack.AnsCoder(words)

    def decode(self, count: int, table_index: int) -> np.ndarray:
        """-> int32 [count]."""
        _check_table_index(table_index)
        if table_index == ALL_ZERO or count == 0:
            return np.zeros(count, dtype=np.int32)
        return self._coder.decode(_model(table_index), count).astype(np.int32) - MAX_SYMBOL

    def finish(self) -> None:
        """Raise ValueError unless the terminator follows and the stream was consumed exactly."""
        if tuple(int(v) for v in self._coder.decode(_terminator_model(), 2)) != TERMINATOR:
            raise ValueError("entropy-coded payload does not end with the terminator")
        if not self._coder.is_empty():
            raise ValueError("entropy-coded payload has data left over after the last symbol")


def encode_groups(groups: list[SymbolGroup]) -> bytes:
    """ANS-code whole groups in order into one stream."""
    encoder = SymbolEncoder()
    for group in groups:
        encoder.add(group.symbols, group.table_index)
    return encoder.to_bytes()


def decode_groups(data: bytes, specs: list[tuple[int, int]]) -> list[np.ndarray]:
    """Inverse of `encode_groups`. specs: (symbol count, table index) per group -> int32 arrays."""
    decoder = SymbolDecoder(data)
    out = [decoder.decode(count, table_index) for count, table_index in specs]
    decoder.finish()
    return out
