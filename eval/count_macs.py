"""Multiply-accumulates per pixel of the v2 decoder (entropy model + interpolation + synthesis), counted from
the model configuration for a given image size, as the numpy decoder performs them.

    python eval/count_macs.py [--model ID] [--width 768 --height 512] [--out eval/results/decoder_macs.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from inrcodec.model.config import ModelConfig, level_shape


def layer_macs(widths: tuple[int, ...]) -> int:
    return sum(a * b for a, b in zip(widths[:-1], widths[1:]))


def decoder_macs(config: ModelConfig, width: int, height: int) -> dict:
    pixels = width * height
    shapes = [level_shape(height, width, level) for level in range(config.n_levels)]
    latents = sum(h * w for h, w in shapes)
    pass_b = sum((h * w) // 2 for h, w in shapes)
    pass_a = latents - pass_b
    context = (pass_a * layer_macs((config.context_inputs(False), *config.ctx_hidden, 2))
               + pass_b * layer_macs((config.context_inputs(True), *config.ctx_hidden, 2)))  # fmt: skip
    # gain: one multiply per latent; bilinear: 2 per pixel and level along rows and 2 along columns (level 0
    # is read as it is)
    interpolation = latents + 4 * pixels * (config.n_levels - 1)
    mlp = pixels * layer_macs((config.n_levels, *config.synth_hidden, config.synth_channels))
    convs = pixels * config.synth_resblocks * 9 * config.synth_channels**2
    out = pixels * config.synth_channels * 3
    parts = {"context_model": context, "interpolation": interpolation, "synthesis_mlp": mlp,
             "synthesis_convs": convs, "output_layer": out}  # fmt: skip
    total = sum(parts.values())
    return {
        "width": width, "height": height, "latents_per_pixel": latents / pixels,
        "macs_per_pixel": {name: value / pixels for name, value in parts.items()},
        "total_macs_per_pixel": total / pixels,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="installed model id (default: the default model)")
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from inrcodec.api import resolve_model

    entry = resolve_model(args.model)
    report = {"model": {"id": entry.id, "sha256": entry.sha256, "config": entry.config},
              **decoder_macs(ModelConfig.from_dict(entry.config), args.width, args.height),
              "command": " ".join(["python", *sys.argv])}  # fmt: skip
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
