"""Meta-learning benchmark: inrcodec with the shipped model against its model-free encoder, JPEG and WebP.

Produces eval/results/meta_bench.json; run from the repository root with inrcodec installed:

    python eval/bench_meta.py --out eval/results/meta_bench.json [--codecs a,b,...] [--resume]

Codecs (all on the same images, in this one script; every bpp from the bytes, every PSNR from the decoded
8-bit image):
  model-0steps         the shipped default model, its predictor's output only (no step)
  model-10steps        the shipped default model, its 10 meta-learned steps only
  nomodel-{10,30,100}  the model-free encoder (format 1.0: pyramid start, own MLP) with that many steps
  model-fast           the default model at the fast preset (as `inrcodec encode` runs it); model-fast-nomod
                       and model-fast-mod: the same with V held at V0 (grid-only) and with V fitted and coded
  model-medium         the default model at the medium (default) preset
  jpeg-pillow-420      Pillow JPEG, 4:2:0, optimize, quality 5..95
  webp-pillow-m6       Pillow WebP, method 6, quality 0..100
eval/report_meta.py turns the file into BD-rates.
"""

from __future__ import annotations

import argparse
import functools
import io
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import load_rgb, measure_jpeg, measured_row, run_meta, summarise, write_atomically  # noqa: E402

ALL_QUALITIES = [1, 2, 3, 4, 5, 6, 7, 8]
EVEN_QUALITIES = [2, 4, 6, 8]


def measure_webp(image: str, rgb: np.ndarray, quality: int) -> dict:
    """Pillow WebP (libwebp, lossy, method 6) of uint8 [H, W, 3] rgb at quality 0-100."""
    source = Image.fromarray(rgb)
    start = time.perf_counter()
    buffer = io.BytesIO()
    source.save(buffer, "WEBP", quality=quality, method=6)
    data = buffer.getvalue()
    encoded = time.perf_counter()
    with Image.open(io.BytesIO(data)) as webp:
        decoded = np.asarray(webp.convert("RGB"), dtype=np.uint8)
    return measured_row(image, quality, rgb, data, decoded, encoded - start, time.perf_counter() - encoded)


def measure_inrcodec(image: str, rgb: np.ndarray, quality: int, *, model, preset="medium", steps=None,
                     modulate=None) -> dict:
    """inrcodec of uint8 [H, W, 3] rgb; decoding is timed separately on the bytes written."""
    from inrcodec.codec import decode_bytes, encode_image
    from inrcodec.model_codec import encode_with_model, load_model
    from inrcodec.presets import MODEL_PRESET_STEPS, QUALITY_LAMBDAS

    start = time.perf_counter()
    if modulate is None:  # what `inrcodec encode` does
        result = encode_image(rgb, quality=quality, preset=preset, steps=steps, model=model)
        data, stats = result.data, result.stats
    else:
        loaded = load_model()
        total = steps or MODEL_PRESET_STEPS[preset]
        meta_steps = min(total, loaded.model.config.meta_steps)
        data, stats = encode_with_model(rgb, loaded, QUALITY_LAMBDAS[quality], meta_steps, total - meta_steps,
                                        modulate=modulate)
    encoded = time.perf_counter()
    decoded = decode_bytes(data)
    row = measured_row(image, quality, rgb, data, decoded, encoded - start, time.perf_counter() - encoded)
    row.update({
        "encoder_psnr_matches": abs(float(stats["psnr_rgb"]) - row["psnr_rgb"]) < 1e-6,
        "encoder_estimated_bpp": float(stats["estimated_bpp"]),
        "steps": int(stats["steps"]),
        "model": stats.get("model"),
    })
    return row


def codec_plan() -> dict:
    """name -> (quality levels, measuring function)."""
    inr = measure_inrcodec
    return {
        "jpeg-pillow-420": (list(range(5, 100, 5)), measure_jpeg),
        "webp-pillow-m6": (list(range(0, 101, 5)), measure_webp),
        "model-0steps": (ALL_QUALITIES, functools.partial(inr, model="default", steps=0)),
        "model-10steps": (ALL_QUALITIES, functools.partial(inr, model="default", steps=10)),
        "nomodel-10steps": (ALL_QUALITIES, functools.partial(inr, model=None, steps=10)),
        "nomodel-30steps": (ALL_QUALITIES, functools.partial(inr, model=None, steps=30)),
        "nomodel-100steps": (EVEN_QUALITIES, functools.partial(inr, model=None, steps=100)),
        "model-fast": (ALL_QUALITIES, functools.partial(inr, model="default", preset="fast")),
        "model-fast-nomod": (EVEN_QUALITIES, functools.partial(inr, model="default", preset="fast", modulate=False)),
        "model-fast-mod": (EVEN_QUALITIES, functools.partial(inr, model="default", preset="fast", modulate=True)),
        "model-medium": (ALL_QUALITIES, functools.partial(inr, model="default", preset="medium")),
    }


def main(argv: list[str] | None = None) -> None:
    plan = codec_plan()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", default="kodim01,kodim05,kodim15,kodim20,kodim23")
    parser.add_argument("--data", default="../shared/data/kodak", help="folder holding <image>.png")
    parser.add_argument("--out", default="eval/results/meta_bench.json")
    parser.add_argument("--codecs", default=",".join(plan), help="comma-separated subset of: " + ",".join(plan))
    parser.add_argument("--resume", action="store_true", help="keep rows already measured in --out")
    parser.add_argument("--redo", default="", help="with --resume: comma-separated codecs to measure again")
    args = parser.parse_args(argv)
    names = [name for name in args.codecs.split(",") if name]
    unknown = sorted(set(names) - set(plan))
    if unknown:
        parser.error(f"unknown codecs {unknown}")
    image_names = args.images.split(",")
    out = Path(args.out)
    meta = run_meta()
    from inrcodec.models import resolve

    default = resolve()
    meta["model"] = {"id": default.id, "sha256": default.sha256}
    rows: dict[str, list[dict]] = {}
    if args.resume and out.exists():
        import json

        previous = json.loads(out.read_text())
        if previous["meta"].get("model") != meta["model"] or previous["meta"].get("data") != args.data:
            sys.exit(f"cannot resume: {out} was measured with another model or data; remove it or drop --resume")
        redo = set(args.redo.split(","))
        rows = {name: codec["per_image"] for name, codec in previous["codecs"].items() if name not in redo}
    images = {name: load_rgb(Path(args.data) / f"{name}.png") for name in image_names}

    def document() -> dict:
        codecs = {name: summarise(rows[name], image_names, plan[name][0]) for name in plan if rows.get(name)}
        return {
            "name": "meta-bench",
            "description": "inrcodec with the shipped model vs its model-free encoder, Pillow JPEG and WebP on "
                           f"{len(image_names)} Kodak images; bpp = file bytes x 8 / pixels, PSNR-RGB from the "
                           "decoded 8-bit output (mean of per-image PSNRs), times in wall seconds per image.",
            "meta": {**meta, "data": args.data, "images": image_names},
            "codecs": codecs,
        }

    for name in names:
        qualities, measure = plan[name]
        codec_rows = rows.setdefault(name, [])
        done = {(row["image"], row["quality"]) for row in codec_rows}
        for quality in qualities:
            for image, rgb in images.items():
                if (image, quality) in done:
                    continue
                row = measure(image, rgb, quality)
                codec_rows.append(row)
                print(f"[{name}] {image} q={quality}: {row['bpp']:.4f} bpp, {row['psnr_rgb']:.3f} dB, "
                      f"encode {row['encoding_time']:.2f} s, decode {row['decoding_time']:.2f} s", file=sys.stderr)
            write_atomically(out, document())
    write_atomically(out, document())


if __name__ == "__main__":
    main()
