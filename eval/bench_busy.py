"""Encode time on a busy machine: OpenMP's wait policy, measured both ways beside a competing process.

    python eval/bench_busy.py --out eval/results/v2/busy_machine.json

Times `inrcodec encode kodim05 --steps 10` (a fresh process each time, wall seconds) on an idle machine and
beside a competing torch process that keeps every core busy, with OMP_WAIT_POLICY=ACTIVE (OpenMP's spinning,
what torch does by default) and PASSIVE (what the CLI sets unless the user chose). Two runs each, in turn.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMPETITOR = "import torch\nx = torch.randn(512, 512)\nwhile True:\n    x = torch.tanh(x @ x)\n"


def encode_seconds(image: Path, out: Path, policy: str) -> float:
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    env.pop("OMP_NUM_THREADS", None)
    started = time.perf_counter()
    subprocess.run(["inrcodec", "encode", str(image), "-o", str(out), "--steps", "10", "--force"], env=env,
                   check=True, capture_output=True)  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path,
                        default=Path(__file__).resolve().parent.parent.parent / "shared/data/kodak/kodim05.png")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from inrcodec import hardware

    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "x.inr"
        for policy in ("ACTIVE", "PASSIVE"):
            results[f"idle, {policy}"] = [encode_seconds(args.image, out, policy) for _ in range(2)]
        competitor = subprocess.Popen([sys.executable, "-c", COMPETITOR], env={**os.environ, "OMP_WAIT_POLICY": "ACTIVE"})
        try:
            time.sleep(3)
            for _ in range(2):
                for policy in ("ACTIVE", "PASSIVE"):
                    results.setdefault(f"busy, {policy}", []).append(encode_seconds(args.image, out, policy))
        finally:
            competitor.kill()
    report = {"image": str(args.image.name), "steps": 10, "wall_seconds": results,
              "hardware": hardware.describe(), "cpus": os.cpu_count(), "command": " ".join(["python", *sys.argv]),
              "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
