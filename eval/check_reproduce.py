"""Re-measure committed rd-curve rows and check that the bytes and PSNR come out the same.

    python eval/check_reproduce.py --results eval/results/kodak-v2 --codec inrcodec-fast --image kodim05 \
        --quality 3 --data ../shared/data/kodak [--out eval/results/kodak-v2/reproduce.json]

The codec is rebuilt from the results file's meta (preset, model, thread count); the model installed must be the
one named there. Writes a JSON record (appending to --out's list) and exits 1 on any mismatch. Bytes are expected
to match only with the same torch version, thread count and CPU kind as recorded in the meta block.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from inrcodec.rd import codecs as rdcodecs

from inrcodec.rd import curve as rdcurve
from inrcodec.rd.datasets import resolve_dataset


def codec_from_meta(name: str, meta: dict) -> rdcodecs.Codec:
    config = meta["config"]
    if meta["kind"] != "inrcodec":
        return rdcodecs.BASELINES[name]
    model = config["model"]
    codec = rdcodecs.inrcodec_codec(config["preset"], "default", config["steps"])
    if codec.config()["model"] != model:
        sys.exit(f"the installed default model is not {model['id']} ({model['sha256'][:12]}...)")
    return codec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("eval/results/kodak-v2"))
    parser.add_argument("--codec", default="inrcodec-fast")
    parser.add_argument("--image", default="kodim05")
    parser.add_argument("--quality", type=float, default=3)
    parser.add_argument("--data", default="../shared/data/kodak")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    meta = json.loads((args.results / f"{args.codec}.json").read_text())["meta"]
    committed = next(row for row in rdcurve.read_rows(args.results / f"{args.codec}.csv")
                     if row["image"] == args.image and row["quality"] == args.quality)
    rdcurve._set_threads(meta["threads"])
    codec = codec_from_meta(args.codec, meta)
    dataset = resolve_dataset("kodak", args.data)
    quality = int(args.quality) if float(args.quality).is_integer() else args.quality
    row = rdcurve.measure(codec, args.image, dataset.load(args.image), quality)
    record = {
        "codec": args.codec, "image": args.image, "quality": quality,
        "committed": {k: committed[k] for k in ("bytes", "sha256", "psnr_rgb")},
        "remeasured": {k: row[k] for k in ("bytes", "sha256", "psnr_rgb", "encoding_time")},
        "same_bytes": row["sha256"] == committed["sha256"],
        "same_psnr": row["psnr_rgb"] == committed["psnr_rgb"],
        "threads": meta["threads"], "hardware": meta["hardware"],
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python", *sys.argv]),
    }
    print(json.dumps(record, indent=2))
    if args.out is not None:
        records = json.loads(args.out.read_text()) if args.out.exists() else []
        args.out.write_text(json.dumps(records + [record], indent=2) + "\n")
    sys.exit(0 if record["same_bytes"] and record["same_psnr"] else 1)


if __name__ == "__main__":
    main()
