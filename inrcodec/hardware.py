"""A one-line description of the machine, for results files and model cards."""

from __future__ import annotations

import os
import platform


def cpu_name() -> str:
    """The CPU model name from /proc/cpuinfo where there is one (platform.processor() is often empty on Linux)."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def results_machine() -> dict:
    """The machine facts a results file records: the CPU line, and torch's CPU kernel level ("AVX2", "AVX512").

    The kernel level matters: the same torch build rounds differently on AVX2 and AVX-512, so an encode's bytes
    (not its size or PSNR, beyond the 4th decimal) differ between them."""
    import torch

    return {
        "hardware": f"{cpu_name()} ({platform.machine()}), {os.cpu_count()} logical CPUs",
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def describe(device: str = "cpu") -> str:
    """E.g. "AMD EPYC 7B13, 2 cores, torch 2.13.0 with 2 threads" (+ the GPU's name when device is cuda)."""
    import torch

    threads = torch.get_num_threads()
    text = f"{cpu_name()}, {os.cpu_count()} cores, torch {torch.__version__} with {threads} thread{'s' * (threads != 1)}"
    if device.startswith("cuda") and torch.cuda.is_available():
        text += f", GPU {torch.cuda.get_device_name()}"
    return text
