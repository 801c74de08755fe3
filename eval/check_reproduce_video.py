"""Re-encode a committed `rd-curve --video` row of inrcodec's video codec and check bytes and PSNR are the same.

    python eval/check_reproduce_video.py --results eval/results/video/basketballpass_416x240 --quality 2 \
        --clip ../shared/data/video/basketballpass_416x240 [--out .../reproduce.json]

Uses the preset and model the results' meta names. Writes a JSON record (appending to --out's list) and exits 1
on a mismatch. Bytes are expected to match only with the torch version, thread count and CPU kind recorded.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from inrcodec.model.registry import resolve
from inrcodec.video.codec import encode_video


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, required=True)
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--quality", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    meta = json.loads((args.results / "inrcodec.json").read_text())["meta"]
    config = meta["config"]
    if resolve(config["model"]["id"]).sha256 != config["model"]["sha256"]:
        sys.exit(f"the installed model {config['model']['id']!r} is not the one the results were measured with")
    torch.set_num_threads(meta["threads"])
    with (args.results / "inrcodec.csv").open() as file:
        rows = list(csv.DictReader(line for line in file if not line.startswith("#")))
    committed = next(r for r in rows if int(float(r["quality"])) == args.quality)
    result = encode_video(args.clip, quality=args.quality, preset=config["preset"], model=config["model"]["id"])
    record = {
        "clip": str(args.clip), "quality": args.quality, "preset": config["preset"], "threads": meta["threads"],
        "committed": {"sha256": committed["sha256"], "bytes": int(committed["bytes"]), "psnr_rgb": float(committed["psnr_rgb"])},
        "now": {"sha256": hashlib.sha256(result.data).hexdigest(), "bytes": len(result.data), "psnr_rgb": result.stats["psnr_rgb"]},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "torch": torch.__version__,
    }
    record["same"] = record["committed"]["sha256"] == record["now"]["sha256"] and (
        abs(record["committed"]["psnr_rgb"] - record["now"]["psnr_rgb"]) < 1e-9)
    out = args.out or args.results / "reproduce.json"
    history = json.loads(out.read_text()) if out.exists() else []
    out.write_text(json.dumps(history + [record], indent=2) + "\n")
    print(json.dumps(record, indent=2))
    sys.exit(0 if record["same"] else 1)


if __name__ == "__main__":
    main()
