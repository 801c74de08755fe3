"""Wall time of the default test suite (`python -m pytest -q`), idle and beside one busy process.

    python eval/bench_suite.py --out eval/results/suite_time.json

The busy process is a torch loop that keeps every core busy with its default (spinning) OpenMP threads, what
another user's training run does. The suite runs in a fresh process each time; one run idle, then one beside
the competitor.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMPETITOR = "import torch\nx = torch.randn(512, 512)\nwhile True:\n    x = torch.tanh(x @ x)\n"


def suite_seconds() -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=REPO,
                          capture_output=True, text=True)  # fmt: skip
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    if done.returncode != 0:
        raise SystemExit(f"the suite failed: {summary}")
    return time.perf_counter() - started, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    from inrcodec import hardware

    idle, idle_summary = suite_seconds()
    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    competitor = subprocess.Popen([sys.executable, "-c", COMPETITOR], env=environment)
    try:
        time.sleep(3)  # let it start its threads
        busy, busy_summary = suite_seconds()
    finally:
        competitor.kill()
        competitor.wait()
    result = {
        "command": f"python eval/bench_suite.py --out {options.out}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **hardware.results_machine(),
        "suite": "python -m pytest -q (the default suite: -m 'not slow' -n auto)",
        "idle_seconds": round(idle, 1),
        "idle_result": idle_summary,
        "beside_busy_process_seconds": round(busy, 1),
        "beside_busy_process_result": busy_summary,
        "busy_process": "a torch matmul loop on every core, OpenMP threads spinning (default policy)",
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
