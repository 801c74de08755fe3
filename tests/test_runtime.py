"""The CLI's process-wide settings: OpenMP's wait policy and glibc's large-allocation thresholds."""

import os
import subprocess
import sys

import pytest

from inrcodec import runtime


MAPPED_BYTES = """
import ctypes, sys
from inrcodec import runtime
made = runtime.keep_large_allocations_on_the_heap() if sys.argv[-1] == "tuned" else False
import numpy as np
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
block = np.ones(1 << 23)  # 64 MiB
print(made, mallinfo2().hblkhd)
"""


def has_mallinfo2() -> bool:
    import ctypes

    return sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "mallinfo2")


@pytest.mark.skipif(not has_mallinfo2(), reason="mallopt and mallinfo2 are glibc's (2.33 or later)")
def test_large_blocks_come_from_the_heap_after_the_setting():
    # glibc maps every block over its threshold (at most 32 MiB) on allocation and unmaps it on free; with the
    # setting a 64 MiB activation comes from the heap, where a freed one is reused.
    env = {k: v for k, v in os.environ.items() if k not in runtime._MALLOC_SETTINGS}
    out = {}
    for mode in ("plain", "tuned"):
        result = subprocess.run([sys.executable, "-c", MAPPED_BYTES, mode], env=env, capture_output=True, text=True,
                                check=True)  # fmt: skip
        made, mapped = result.stdout.split()
        out[mode] = (made, int(mapped))
    assert out["plain"][0] == "False" and out["plain"][1] >= 1 << 26
    assert out["tuned"][0] == "True" and out["tuned"][1] < 1 << 26


def test_a_users_malloc_setting_wins(monkeypatch):
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert runtime.keep_large_allocations_on_the_heap() is False


def test_wait_policy_defaults_to_passive_and_a_users_choice_wins(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")  # leave this process's allocator alone
    runtime.tune_process()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    runtime.tune_process()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
