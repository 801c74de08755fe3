"""Process-wide settings the CLI makes before any work: how OpenMP threads wait, and where glibc puts large
allocations. A user's own environment setting always wins. The Python API leaves the host process alone.
"""

from __future__ import annotations

import ctypes
import os
import sys
from contextlib import contextmanager

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
HEAP_LIMIT = 1 << 30
MAPPED_FROM = 32 << 20  # glibc's own ceiling for its dynamic mmap threshold
_heap_kept = False  # whether keep_large_allocations_on_the_heap took effect in this process
_MALLOC_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_", "GLIBC_TUNABLES")


def tune_process() -> None:
    """Call before torch is imported."""
    # OpenMP threads that spin while they wait make an encode 2x slower when other processes compete for the
    # cores (measured: 20.7 s active, 10.8 s passive for one encode beside a training run on two cores).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    keep_large_allocations_on_the_heap()


def start_worker(threads: int) -> None:
    """In a spawned worker process, before its first torch work: tune_process, then `threads` torch threads."""
    tune_process()
    import torch

    torch.set_num_threads(threads)


def keep_large_allocations_on_the_heap() -> bool:
    """Let glibc serve allocations up to HEAP_LIMIT from its heap and keep up to HEAP_LIMIT of freed memory.

    By default every block over 32 MiB is mapped on allocation and unmapped on free, so each full-resolution
    activation of an encode (768x512x32 float32 = 48 MiB) gets fresh zeroed pages from the kernel: a ReLU on one
    took 22 ms instead of 4 (eval/results/v2/refine_step.json has the encode times). -> whether the setting was
    made (False off glibc, or when the user set malloc's own variables)."""
    if not sys.platform.startswith("linux") or any(name in os.environ for name in _MALLOC_SETTINGS):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    global _heap_kept
    _heap_kept = mallopt(_M_MMAP_THRESHOLD, HEAP_LIMIT) == 1 and mallopt(_M_TRIM_THRESHOLD, HEAP_LIMIT) == 1
    return _heap_kept


@contextmanager
def large_allocations_returned():
    """For work whose large blocks are long-lived state, not activations (a tiled encode's canvas): within the
    block, blocks over MAPPED_FROM are mapped and freed memory is returned, as glibc does by default, so that
    up to HEAP_LIMIT of freed canvas copies do not stay in the process (+0.9 GiB peak RSS at 24 megapixels).
    Does nothing unless keep_large_allocations_on_the_heap took effect."""
    if not _heap_kept:
        yield
        return
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    mallopt(_M_MMAP_THRESHOLD, MAPPED_FROM)
    mallopt(_M_TRIM_THRESHOLD, MAPPED_FROM)
    try:
        yield
    finally:
        mallopt(_M_MMAP_THRESHOLD, HEAP_LIMIT)
        mallopt(_M_TRIM_THRESHOLD, HEAP_LIMIT)
