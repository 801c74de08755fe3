"""Codec-core benchmark: inrcodec against Pillow JPEG (4:2:0) on Kodak images.

Produces eval/results/core_bench.json; run from the repository root with inrcodec installed (`pip install -e .`):

    python eval/bench_core.py --images kodim01,kodim05,kodim15,kodim20,kodim23 --qualities 1,2,3,4,5,6,7,8 \
        --preset medium --data ../shared/data/kodak --out eval/results/core_bench.json

The full run takes an hour or more; add --resume to continue an interrupted one (rows already in the file for
the same data directory and inrcodec version are kept). Every number comes from the bytes: bpp from the length of
the encoded file, PSNR from decoding it to 8-bit RGB. The encoder's own PSNR is recorded and checked, not used.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

import numpy as np
import PIL
from PIL import Image

from inrcodec.hardware import cpu_name as cpu_model
from inrcodec.metrics import bd_psnr, bd_rate, mse, psnr, psnr_from_mse

JPEG = "jpeg-pillow-420"
RESULT_KEYS = ("quality", "bpp", "psnr-rgb", "psnr-rgb-of-mean-mse", "encoding_time", "decoding_time")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def name_list(text: str) -> list[str]:
        return [item for item in text.split(",") if item]

    def int_list(text: str) -> list[int]:
        return [int(item) for item in name_list(text)]

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", default="kodim01,kodim05,kodim15,kodim20,kodim23", type=name_list)
    parser.add_argument("--qualities", default="1,2,3,4,5,6,7,8", type=int_list, help="inrcodec quality levels")
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--data", default="../shared/data/kodak", help="folder holding <image>.png")
    parser.add_argument("--out", default="eval/results/core_bench.json")
    parser.add_argument("--jpeg-qualities", default=",".join(map(str, range(5, 100, 5))), type=int_list)
    parser.add_argument("--codecs", default="jpeg,inrcodec", type=name_list, help="subset of jpeg,inrcodec")
    parser.add_argument("--resume", action="store_true", help="keep rows already measured in --out")
    args = parser.parse_args(argv)
    unknown = set(args.codecs) - {"jpeg", "inrcodec"}
    if unknown:
        parser.error(f"unknown codecs {sorted(unknown)}; choose from jpeg,inrcodec")
    return args


def load_rgb(path: Path) -> np.ndarray:
    """The image at path as uint8 [H, W, 3] RGB."""
    with Image.open(path) as image:
        return np.array(image.convert("RGB"), dtype=np.uint8)  # a writable copy: torch.from_numpy warns on views


def measured_row(image: str, quality: int, rgb: np.ndarray, data: bytes, decoded: np.ndarray,
                 encode_s: float, decode_s: float) -> dict:
    """One per-image result, measured from the encoded bytes and the decoded uint8 [H, W, 3] image."""
    height, width = rgb.shape[:2]
    return {"image": image, "quality": quality, "width": width, "height": height, "bytes": len(data),
            "bpp": len(data) * 8 / (width * height), "psnr_rgb": psnr(rgb, decoded), "mse": mse(rgb, decoded),
            "encoding_time": encode_s, "decoding_time": decode_s}


def measure_jpeg(image: str, rgb: np.ndarray, quality: int) -> dict:
    """Baseline JPEG (Pillow/libjpeg, 4:2:0, optimized Huffman tables) of uint8 [H, W, 3] rgb at quality 1-95."""
    source = Image.fromarray(rgb)
    start = time.perf_counter()
    buffer = io.BytesIO()
    source.save(buffer, "JPEG", quality=quality, optimize=True, subsampling=2)
    data = buffer.getvalue()
    encoded = time.perf_counter()
    with Image.open(io.BytesIO(data)) as jpeg:
        decoded = np.asarray(jpeg.convert("RGB"), dtype=np.uint8)
    return measured_row(image, quality, rgb, data, decoded, encoded - start, time.perf_counter() - encoded)


def measure_inrcodec(image: str, rgb: np.ndarray, quality: int, preset: str) -> dict:
    """inrcodec of uint8 [H, W, 3] rgb; the encoder's own stats are recorded beside the measurement, not used."""
    from inrcodec.codec import decode_bytes, encode_image  # imports torch; only needed when inrcodec is measured

    start = time.perf_counter()
    result = encode_image(rgb, quality=quality, preset=preset, model=None)
    encoded = time.perf_counter()
    decoded = decode_bytes(result.data)
    row = measured_row(image, quality, rgb, result.data, decoded, encoded - start, time.perf_counter() - encoded)
    encoder_psnr = float(result.stats["psnr_rgb"])
    row.update({
        "encoder_psnr_rgb": encoder_psnr,
        "encoder_psnr_matches": encoder_psnr == row["psnr_rgb"] or abs(encoder_psnr - row["psnr_rgb"]) < 1e-6,
        "encoder_bytes_match": int(result.stats["bytes"]) == len(result.data),
        "encoder_seconds": float(result.stats["encode_seconds"]),
        "encoder_estimated_bpp": float(result.stats["estimated_bpp"]),
        "steps": int(result.stats["steps"]),
    })
    return row


def inrcodec_version() -> str:
    try:
        return metadata.version("inrcodec")
    except metadata.PackageNotFoundError:
        import inrcodec

        return str(getattr(inrcodec, "__version__", "unknown"))


def run_meta() -> dict:
    import torch

    return {
        "inrcodec_version": inrcodec_version(),
        "command": " ".join(["python", *sys.argv]),
        "hardware": f"{cpu_model()} ({platform.machine()}), {os.cpu_count()} logical CPUs",
        "torch_threads": torch.get_num_threads(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pillow": PIL.__version__,
    }


def summarise(rows: list[dict], images: list[str], qualities: list[int]) -> dict:
    """Mean curves over images for every quality level that all images have reached, plus the per-image rows."""
    by_key = {(row["image"], row["quality"]): row for row in rows}
    kept = [by_key[(image, q)] for q in qualities for image in images if (image, q) in by_key]
    results = {key: [] for key in RESULT_KEYS}
    for quality in qualities:
        level = [by_key.get((image, quality)) for image in images]
        if None in level:
            continue
        # Dataset PSNR is the mean of per-image PSNRs (CompressAI/COIN++); the PSNR of the mean MSE is kept too.
        results["quality"].append(quality)
        results["bpp"].append(float(np.mean([row["bpp"] for row in level])))
        results["psnr-rgb"].append(float(np.mean([row["psnr_rgb"] for row in level])))
        results["psnr-rgb-of-mean-mse"].append(psnr_from_mse(float(np.mean([row["mse"] for row in level]))))
        results["encoding_time"].append(float(np.mean([row["encoding_time"] for row in level])))
        results["decoding_time"].append(float(np.mean([row["decoding_time"] for row in level])))
    encoder_checks = [row["encoder_psnr_matches"] for row in kept if "encoder_psnr_matches" in row]
    return {
        "results": results,
        "complete": len(kept) == len(images) * len(qualities),
        "encoder_psnr_all_match": all(encoder_checks) if encoder_checks else None,
        "max_encoding_time": max((row["encoding_time"] for row in kept), default=None),
        "max_decoding_time": max((row["decoding_time"] for row in kept), default=None),
        "per_image": kept,
    }


def bd_versus_jpeg(codecs: dict, test_name: str) -> dict:
    """BD-rate (%) and BD-PSNR (dB) of the test codec's mean curve against the JPEG mean curve."""
    anchor, test = codecs.get(JPEG, {}).get("results"), codecs.get(test_name, {}).get("results")
    if not anchor or not test:
        return {"bd_rate_vs_jpeg_percent": None, "bd_psnr_vs_jpeg_db": None, "bd_error": "a curve is missing"}
    curves = (anchor["bpp"], anchor["psnr-rgb"], test["bpp"], test["psnr-rgb"])
    try:
        return {"bd_rate_vs_jpeg_percent": bd_rate(*curves), "bd_psnr_vs_jpeg_db": bd_psnr(*curves)}
    except ValueError as error:  # too few levels yet, or no overlap: record why instead of losing the run
        return {"bd_rate_vs_jpeg_percent": None, "bd_psnr_vs_jpeg_db": None, "bd_error": str(error)}


def build_document(rows: dict, plan: dict, settings: dict, meta: dict, images: list[str]) -> dict:
    codecs = {name: summarise(rows.get(name, []), images, qualities) for name, (qualities, _) in plan.items()}
    test_name = next((name for name in codecs if name != JPEG), "")
    document = {
        "name": "core-bench",
        "description": f"{test_name or 'inrcodec'} vs Pillow JPEG 4:2:0 (optimize=True) on {len(images)} Kodak "
                       "images; bpp = file bytes x 8 / pixels, PSNR-RGB from the decoded 8-bit output, "
                       "psnr-rgb = mean of per-image PSNRs, times in wall seconds per image.",
        "meta": {**meta, "settings": settings, "images": images},
        "codecs": codecs,
    }
    document.update(bd_versus_jpeg(codecs, test_name))
    test = codecs.get(test_name, {})
    document["max_encode_seconds"] = test.get("max_encoding_time")
    document["max_decode_seconds"] = test.get("max_decoding_time")
    return document


def write_atomically(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    os.chmod(handle.name, 0o644)  # mkstemp's 0600 would surprise whoever reads the results
    os.replace(handle.name, path)


def previous_rows(path: Path, settings: dict) -> dict:
    """Per-image rows by codec name from an earlier run with the same settings; exits if the settings differ."""
    if not path.exists():
        return {}
    document = json.loads(path.read_text())
    if document.get("meta", {}).get("settings") != settings:
        sys.exit(f"cannot resume: {path} was measured with {document.get('meta', {}).get('settings')}, "
                 f"this run uses {settings}; remove the file or drop --resume")
    return {name: codec["per_image"] for name, codec in document["codecs"].items()}


def markdown_summary(document: dict) -> str:
    lines = ["| codec | quality | bpp | PSNR-RGB (dB) | encode (s) | decode (s) |", "|---|---:|---:|---:|---:|---:|"]
    for name, codec in document["codecs"].items():
        res = codec["results"]
        for i, quality in enumerate(res["quality"]):
            lines.append(f"| {name} | {quality} | {res['bpp'][i]:.4f} | {res['psnr-rgb'][i]:.3f} | "
                         f"{res['encoding_time'][i]:.3f} | {res['decoding_time'][i]:.3f} |")
    rate = document["bd_rate_vs_jpeg_percent"]
    verdict = f"{rate:+.2f} %" if rate is not None else f"n/a ({document['bd_error']})"
    lines += ["", f"BD-rate vs JPEG: {verdict}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    plan = {}  # codec name -> (quality levels, measuring function), JPEG first: it takes seconds, inrcodec an hour
    if "jpeg" in args.codecs:
        plan[JPEG] = (args.jpeg_qualities, measure_jpeg)
    if "inrcodec" in args.codecs:
        plan[f"inrcodec-{args.preset}"] = (args.qualities, functools.partial(measure_inrcodec, preset=args.preset))
    meta = run_meta()
    settings = {"data": args.data, "inrcodec_version": meta["inrcodec_version"]}
    out = Path(args.out)
    rows = previous_rows(out, settings) if args.resume else {}
    images = {name: load_rgb(Path(args.data) / f"{name}.png") for name in args.images}

    for name, (qualities, measure) in plan.items():
        codec_rows = rows.setdefault(name, [])
        done = {(row["image"], row["quality"]) for row in codec_rows}
        for quality in qualities:  # quality-major, so an interrupted run already has complete curve points
            for image, rgb in images.items():
                if (image, quality) in done:
                    continue
                row = measure(image, rgb, quality)
                codec_rows.append(row)
                print(f"[{name}] {image} q={quality}: {row['bpp']:.4f} bpp, {row['psnr_rgb']:.3f} dB, "
                      f"encode {row['encoding_time']:.2f} s, decode {row['decoding_time']:.2f} s", file=sys.stderr)
                if name != JPEG:  # an inrcodec point costs minutes: never lose one to an interruption
                    write_atomically(out, build_document(rows, plan, settings, meta, args.images))
    document = build_document(rows, plan, settings, meta, args.images)
    write_atomically(out, document)
    print(markdown_summary(document))


if __name__ == "__main__":
    main()
