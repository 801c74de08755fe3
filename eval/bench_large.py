"""A 6000x4000 photo through the CLI: peak memory (RSS) and wall time of encode (--jobs 1 and --jobs 2),
decode, a region decode of a quarter, a 0.25 thumbnail and a crop of a quarter, each in a fresh process
measured by /usr/bin/time -v.

    python eval/bench_large.py --preset fast --out eval/results/v2/large_image.json

The image is kodim05 (768x512) upscaled to 6000x4000 with Pillow's Lanczos filter (the data holds no photo that
large); its default tiling applies (256-pixel tiles above 4 megapixels), so the encoder works tile by tile.
Decodes, region and crop read the --jobs 1 file.

    python eval/bench_large.py --preset fast --redo-decodes --out eval/results/v2/large_image.json

re-measures only the decodes, region, thumbnail and crop (after a decoder or `crop` change) into the existing
results file: it encodes with --jobs 2 (the same bytes as --jobs 1, which the first run checks), keeps the
encode rows, and records when each row was measured.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bench_decode import installed_command


def measured(args: list[str]) -> dict:
    """Run under /usr/bin/time -v -> wall seconds and peak RSS in MiB (and the command's JSON, if it printed one)."""
    done = subprocess.run(["/usr/bin/time", "-v", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr[-600:]}")
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr).group(1)
    seconds = sum(float(part) * 60**i for i, part in enumerate(reversed(wall.split(":"))))
    result = {"seconds": round(seconds, 2), "peak_rss_mib": round(peak / 1024, 1)}
    if done.stdout.strip().startswith("{"):
        result["json"] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared/data/kodak")
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--redo-decodes", action="store_true", help="re-measure only the rows after the encodes")
    args = parser.parse_args()
    from PIL import Image

    from inrcodec import hardware

    command, result = installed_command(), {}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        big, inr = folder / "big.png", folder / "big.inr"
        Image.open(args.kodak / "kodim05.png").convert("RGB").resize((6000, 4000), Image.LANCZOS).save(big)
        if args.redo_decodes:
            earlier = json.loads(args.out.read_text())
            again = measured([command, "encode", str(big), "-o", str(inr), "--preset", args.preset, "--jobs", "2",
                              "--json", "--quiet"])  # fmt: skip
            if again["json"]["bytes"] != earlier["file"]["bytes"]:
                raise SystemExit(f"the encode gave {again['json']['bytes']} bytes, the results file {earlier['file']['bytes']}")
        else:
            result["encode"] = measured([command, "encode", str(big), "-o", str(inr), "--preset", args.preset,
                                         "--json", "--quiet"])  # fmt: skip
            result["encode_jobs_2"] = measured([command, "encode", str(big), "-o", str(folder / "big2.inr"),
                                                "--preset", args.preset, "--jobs", "2", "--json", "--quiet"])  # fmt: skip
            result["encode_jobs_2"]["same_bytes_as_jobs_1"] = (folder / "big2.inr").read_bytes() == inr.read_bytes()
        result["decode"] = measured([command, "decode", str(inr), "-o", str(folder / "d.png"), "--json", "--quiet"])
        result["decode_region_quarter"] = measured([command, "decode", str(inr), "-o", str(folder / "r.png"),
                                                    "--region", "1500,1000,3000,2000", "--json", "--quiet"])  # fmt: skip
        result["decode_scale_0.25"] = measured([command, "decode", str(inr), "-o", str(folder / "s.png"),
                                               "--scale", "0.25", "--json", "--quiet"])  # fmt: skip
        result["crop_quarter"] = measured([command, "crop", str(inr), "--box", "1500,1000,3000,2000", "-o",
                                           str(folder / "c.inr"), "--json", "--quiet"])  # fmt: skip
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    for row in result.values():
        row["measured"] = now
    if args.redo_decodes:
        report = {**earlier, "runs": {**earlier["runs"], **result}, "redo_command": f"python eval/bench_large.py "
                  f"--preset {args.preset} --redo-decodes --out {args.out}", "redo_date": now,
                  "redo_machine": hardware.results_machine()}  # fmt: skip
    else:
        encoded = result["encode"].pop("json")
        result["encode_jobs_2"]["json"] = {key: result["encode_jobs_2"]["json"][key] for key in ("bytes", "psnr_rgb")}
        summary = {key: encoded[key] for key in ("bytes", "bpp", "psnr_rgb", "steps", "preset", "width", "height")}
        report = {
            "command": f"python eval/bench_large.py --preset {args.preset} --out {args.out}",
            "date": now,
            **hardware.results_machine(),
            "image": "kodim05 upscaled to 6000x4000 (Pillow LANCZOS)",
            "file": summary,
            "runs": result,
        }
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
