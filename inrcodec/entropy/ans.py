"""ANS coding of residual chunks with the normative tables (constriction), and the stream terminator.

A stream is the concatenation, in decoding order, of chunks (residuals [n] in [-255, 255], table index), then
two uniform 16-bit terminator symbols that a decoder must read back after the last chunk, with nothing left.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from inrcodec.entropy.tables import ALPHABET_HALF, N_TABLES, tables

TERMINATOR = (0x494E, 0x5232)


@lru_cache(maxsize=N_TABLES)
def table_model(index: int):
    import constriction

    return constriction.stream.model.Categorical(tables()[index].astype(np.float64), perfect=False)


@lru_cache(maxsize=1)
def table_models() -> list:
    """Every table's model, by index (a list: cheaper to index per chunk than a cached call per table)."""
    return [table_model(index) for index in range(N_TABLES)]


def _terminator_model():
    import constriction

    return constriction.stream.model.Uniform(1 << 16)


class ChunkEncoder:
    """Collects chunks in decoding order; `to_bytes` ANS-codes them (in reverse, as a stack coder must)."""

    def __init__(self) -> None:
        self._chunks: list[tuple[np.ndarray, int]] = []

    def add(self, residuals: np.ndarray, table_index: int) -> None:
        if residuals.size:
            if np.abs(residuals).max() > ALPHABET_HALF:
                raise ValueError(f"residual magnitude exceeds {ALPHABET_HALF}")
            self._chunks.append((residuals.astype(np.int32), int(table_index)))

    def to_bytes(self) -> bytes:
        """Little-endian uint32 words of the stream."""
        import constriction

        coder = constriction.stream.stack.AnsCoder()
        coder.encode_reverse(np.array(TERMINATOR, dtype=np.int32), _terminator_model())
        for residuals, index in reversed(self._chunks):
            coder.encode_reverse(residuals + ALPHABET_HALF, table_model(index))
        return coder.get_compressed().astype("<u4").tobytes()


class ChunkDecoder:
    """Reads chunks from a stream of ChunkEncoder in the same order; ValueError on a malformed stream."""

    def __init__(self, data: bytes) -> None:
        import constriction

        if len(data) % 4 or not data:
            raise ValueError("entropy-coded data is not a whole, non-empty number of 32-bit words")
        self._coder = constriction.stream.stack.AnsCoder(np.frombuffer(data, dtype="<u4").astype(np.uint32))

    def decode_symbol(self, table_index: int) -> int:
        """One residual: a scalar decode, ten times cheaper than an array of one (the motion's block by block)."""
        return self._coder.decode(table_models()[table_index]) - ALPHABET_HALF

    def decode_groups(self, table_indexes: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """counts[g] residuals with table table_indexes[g], group after group -> int64 residuals [sum(counts)].
        One call per chunk rather than per table: the Python overhead per table is what small tiles pay for."""
        decode, models = self._coder.decode, table_models()
        symbols = [decode(models[t], c) for t, c in zip(table_indexes.tolist(), counts.tolist())]
        return np.concatenate(symbols).astype(np.int64) - ALPHABET_HALF

    def finish(self) -> None:
        if tuple(int(v) for v in self._coder.decode(_terminator_model(), 2)) != TERMINATOR:
            raise ValueError("entropy-coded data does not end with the terminator (corrupted or truncated)")
        if not self._coder.is_empty():
            raise ValueError("entropy-coded data has bytes left over after the last latent")
