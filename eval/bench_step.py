"""Cost of one training step (forward + backward) of the default field on a full-size image, on this machine.

Compares the two ways the grid is read on a pixel lattice, in the same process so machine drift affects both:
`gather` (index_select on every dense level) and `matmul` (coarse dense levels as two small matrix products,
the default). Writes eval/results/step_time.json:

    python eval/bench_step.py --out eval/results/step_time.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone

import torch

import inrcodec
import inrcodec.field.grid as grid_module
from inrcodec.codec import default_field_config
from inrcodec.field.inr import ImageField, default_pixels_per_unit


def step_seconds(width: int, height: int, matmul_max_vertices: int, repeats: int) -> float:
    """Median wall seconds of one full-image forward + backward + Adam step."""
    grid_module.MATMUL_MAX_VERTICES = matmul_max_vertices
    torch.manual_seed(0)
    field = ImageField(default_field_config(), width, height, default_pixels_per_unit(width, height))
    target = torch.rand(height, width, 3)
    optimiser = torch.optim.Adam(field.parameters(), lr=1e-3)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        loss = torch.mean((field.render() - target) ** 2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        times.append(time.perf_counter() - start)
    return sorted(times[1:])[len(times[1:]) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", default="eval/results/step_time.json")
    args = parser.parse_args()
    default = grid_module.MATMUL_MAX_VERTICES
    results = {
        "gather": step_seconds(args.width, args.height, 0, args.repeats),
        "matmul": step_seconds(args.width, args.height, default, args.repeats),
    }
    report = {
        "name": "step-time",
        "description": "median seconds of one training step of the default field on a full image",
        "meta": {
            "inrcodec_version": inrcodec.__version__,
            "command": "python eval/bench_step.py " + " ".join(f"--{k} {v}" for k, v in vars(args).items()),
            "hardware": f"{platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()}".strip(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
        "image": [args.width, args.height],
        "step_seconds": results,
        "speedup_matmul_over_gather": results["gather"] / results["matmul"],
    }
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(report, handle, indent=2)
    print(json.dumps(report["step_seconds"]), f"speedup {report['speedup_matmul_over_gather']:.2f}x")


if __name__ == "__main__":
    main()
