"""Ablation of the v2 architecture: features per level, synthesis width, 3x3 convolutions on/off, analysis
network against the v1-style pyramid predictor, the encoder's refinement in the training loop, one model per
quality against the one model conditioned on the rate code; each trained from scratch on the same short budget
(per quality: that budget for each of the four models).

    OMP_NUM_THREADS=1 python eval/ablate_architecture.py --steps 1500 --out eval/results/v2/ablation_architecture.json
    OMP_NUM_THREADS=1 python eval/ablate_architecture.py --steps 1500 --variants baseline,refinement \
        --refine-steps 0,10 --out eval/results/v2/ablation_training.json
    OMP_NUM_THREADS=1 python eval/ablate_architecture.py --steps 1500 --variants perquality \
        --out eval/results/v2/ablation_per_quality.json

Every variant trains with inrcodec's own loss (inrcodec.train.image.latents_loss) for --steps steps of --batch random
--crop x --crop crops of ../shared/data/train, seed 0, Adam 1e-3 with the training command's schedule. It is
then measured on Kodak kodim01, 05, 15, 20, 23 (the 256x256 crop at top 128, left 256) at qualities 2, 4, 6, 8,
with the analysis network's latents rounded (after --refine-steps of the encoder's refinement): PSNR of the render, and the rate as the ideal
code length of the rounded latents under the variant's context model (sum of -log2 p; no file is written,
because two of the variants have no decoder). BD-rates (pchip) against the baseline variant, the configuration
that ships. A short budget from scratch ranks variants early in training; the ranking can change later.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from inrcodec.encoder.analysis_net import AnalysisNet
from inrcodec.encoder.model_torch import CodecModel
from inrcodec.encoder.shared_torch import (
    ContextNet, SharedModel, Synthesis, context_inputs, gather_plan, padded_coarser, upsample,
)
from inrcodec.model.config import RATE_CODES, ModelConfig, lambda_rate_code
from inrcodec.entropy.tables import LOG_SCALE_MAX, LOG_SCALE_MIN

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ("kodim01", "kodim05", "kodim15", "kodim20", "kodim23")
QUALITIES = (2, 4, 6, 8)
BASELINE = "baseline: 7 levels x 1 feature, MLP 32-32, 2 residual 3x3 convs, analysis CNN"


class MultiFeatureShared(SharedModel):
    """SharedModel with `features` latent features per level: latents [B, F, h, w]; each feature is its own
    chain of context networks (reading the same feature of the coarser level and of its own level)."""

    def __init__(self, config: ModelConfig, features: int) -> None:
        nn.Module.__init__(self)
        self.config, self.features = config, features
        grids = config.n_levels * features
        self.gain_base = nn.Parameter(torch.zeros(grids))
        self.gain_slope = nn.Parameter(torch.full((grids,), -2.0))
        self.synthesis = Synthesis(dataclasses.replace(config, n_levels=grids))
        self.context_a = nn.ModuleList(ContextNet(config.context_inputs(False), config.ctx_hidden) for _ in range(grids))
        self.context_b = nn.ModuleList(ContextNet(config.context_inputs(True), config.ctx_hidden) for _ in range(grids))

    def render(self, latents, rate_codes, height, width):
        gains = torch.exp(self.log_gains(rate_codes)).view(-1, self.config.n_levels, self.features, 1, 1)
        return self.synthesis(torch.cat([upsample(q * gains[:, l], l, height, width) for l, q in enumerate(latents)], 1))

    def distribution(self, latents, rate_codes):
        out = []
        for level, grid in enumerate(latents):
            batch, _, height, width = grid.shape
            means, scales = [], []
            for f in range(self.features):
                q = grid[:, f : f + 1]
                coarse = latents[level + 1][:, f : f + 1] if level + 1 < len(latents) else None
                first, second = context_inputs(q, None if coarse is None else padded_coarser(coarse), rate_codes)
                inverse = gather_plan(height, width, coarse.shape[-1] if coarse is not None else 1)[3]
                net = level * self.features + f
                params = torch.cat([self.context_a[net](first), self.context_b[net](second)], dim=1)[:, inverse]
                params = params.view(batch, height, width, 2).permute(0, 3, 1, 2)
                means.append(params[:, :1])
                scales.append(params[:, 1:].clamp(LOG_SCALE_MIN, LOG_SCALE_MAX))
            out.append((torch.cat(means, 1), torch.cat(scales, 1)))
        return out


class MultiFeatureAnalysis(AnalysisNet):
    """AnalysisNet whose heads give `features` channels per level."""

    def __init__(self, config: ModelConfig, features: int) -> None:
        super().__init__(config)
        self.features = features
        width = config.analysis_width
        self.head_fine = nn.Conv2d(width + 1, 4 * features, 3, padding=1)
        self.heads = nn.ModuleList(nn.Conv2d(width + 1, features, 3, padding=1) for _ in range(config.n_levels - 1))

    def forward(self, image, rate_codes, log_gains):
        plain = super().forward(image, rate_codes, torch.zeros_like(log_gains[:, : len(self.heads) + 1]))
        gains = log_gains.view(log_gains.shape[0], len(plain), self.features, 1, 1)
        return [y * torch.exp(-gains[:, level]) for level, y in enumerate(plain)]


class PyramidAnalysis(nn.Module):
    """The v1 predictor's kind: one 3x3 convolution per level on a Laplacian pyramid of the image (plus the rate
    code as a channel), divided by the level's gain."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.heads = nn.ModuleList(nn.Conv2d(4, 1, 3, padding=1) for _ in range(config.n_levels))

    def forward(self, image, rate_codes, log_gains):
        gaussian = [image - 0.5]
        for _ in range(len(self.heads) - 1):
            gaussian.append(F.avg_pool2d(gaussian[-1], 2, ceil_mode=True))
        bands = [g - F.interpolate(c, size=g.shape[-2:], mode="bilinear", align_corners=False)
                 for g, c in zip(gaussian[:-1], gaussian[1:])] + [gaussian[-1]]  # fmt: skip
        rate = (rate_codes / (RATE_CODES - 1)).view(-1, 1, 1, 1)
        out = []
        for level, (head, band) in enumerate(zip(self.heads, bands)):
            y = head(torch.cat([band, rate.expand(band.shape[0], 1, *band.shape[-2:])], dim=1))
            out.append(y * torch.exp(-log_gains[:, level]).view(-1, 1, 1, 1))
        return out


def build(variant: dict) -> CodecModel:
    config = ModelConfig(**variant.get("config", {}))
    model = CodecModel(config)
    features = variant.get("features", 1)
    if features > 1:
        model.shared = MultiFeatureShared(config, features)
        model.analysis = MultiFeatureAnalysis(config, features)
    if variant.get("analysis") == "pyramid":
        model.analysis = PyramidAnalysis(config)
    return model


VARIANTS = {
    BASELINE: {},
    "2 features per level": {"features": 2},
    "MLP 16-16 (narrower)": {"config": {"synth_hidden": (16, 16)}},
    "MLP 48-48 (wider)": {"config": {"synth_hidden": (48, 48)}},
    "no 3x3 convolutions": {"config": {"synth_resblocks": 0}},
    "pyramid predictor (v1 kind) instead of the analysis CNN": {"analysis": "pyramid"},
    "refinement in the training loop (2 encoder steps per crop, first-order)": {"inner_steps": 2},
    "one model per quality (4 models, each trained only at its quality's rate code)": {"per_quality": True},
}
SHORT_NAMES = dict(zip(("baseline", "features", "narrow", "wide", "noconv", "pyramid", "refinement", "perquality"),
                       VARIANTS))  # fmt: skip


def train_variant(
    variant: dict, images: list[np.ndarray], steps: int, batch: int, crop: int, rate_code: int | None = None
) -> tuple[CodecModel, float]:
    """rate_code: train at this rate code only (one model per quality); None: rate codes uniform over 0..255."""
    from inrcodec.train.data import random_crops
    from inrcodec.train.image import TrainSettings, latents_loss, learning_rate, refined_latents

    torch.manual_seed(0)
    model = build(variant)
    settings = TrainSettings(steps=steps, batch=batch, crop=crop)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    for step in range(steps):
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(settings, step)
        target = torch.from_numpy(random_crops(images, rng, batch, crop)).permute(0, 3, 1, 2).float() / 255.0
        if rate_code is None:
            rate_codes = torch.from_numpy(rng.uniform(0, RATE_CODES - 1, size=batch)).float()
        else:
            rate_codes = torch.full((batch,), float(rate_code))
        latents = model.analysis(target, rate_codes, model.shared.log_gains(rate_codes))
        if variant.get("inner_steps"):
            latents = refined_latents(model, latents, target, rate_codes, variant["inner_steps"])
        loss, _ = latents_loss(model, latents, target, rate_codes)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval(), time.perf_counter() - began


def measure(model: CodecModel, crops: list[torch.Tensor], steps: int, qualities=QUALITIES) -> list[dict]:
    """-> per quality: mean ideal bpp and mean PSNR over the crops (analysis latents after `steps` steps of
    the encoder's refinement, rounded)."""
    from inrcodec.encoder.refine import refine
    from inrcodec.encoder.shared_torch import laplace_bits
    from inrcodec.presets import QUALITY_LAMBDAS

    points = []
    for quality in qualities:
        rate_code = lambda_rate_code(QUALITY_LAMBDAS[quality])
        code = torch.tensor([float(rate_code)])
        bpps, psnrs = [], []
        with torch.no_grad():
            for target in crops:
                height, width = target.shape[-2:]
                latents = model.analysis(target, code, model.shared.log_gains(code))
                if steps:
                    with torch.enable_grad():
                        latents = refine(model, latents, target, rate_code, QUALITY_LAMBDAS[quality], steps,
                                         modulate=False).latents
                latents = [torch.round(y) for y in latents]
                params = model.shared.distribution(latents, code)
                bits = sum(float(laplace_bits(q, m, s).sum()) for q, (m, s) in zip(latents, params))
                recon = (model.shared.render(latents, code, height, width).clamp(0, 1) * 255).round() / 255
                mse = float(((recon - target) ** 2).mean())
                bpps.append(bits / (height * width))
                psnrs.append(-10 * math.log10(mse))
        points.append({"quality": quality, "bpp": float(np.mean(bpps)), "psnr": float(np.mean(psnrs))})
    return points


def bd_against(reference: list[dict], points: list[dict]) -> dict:
    """BD-rate (%) and BD-PSNR (dB) of points against reference; None where the curves share no range."""
    from inrcodec.metrics import bd_psnr, bd_rate

    out = {}
    for key, measure_bd in (("bd_rate_percent", bd_rate), ("bd_psnr_db", bd_psnr)):
        try:
            out[key] = measure_bd([p["bpp"] for p in reference], [p["psnr"] for p in reference],
                                  [p["bpp"] for p in points], [p["psnr"] for p in points])  # fmt: skip
        except ValueError:
            out[key] = None
    return out


def summarise(report: dict, out: Path) -> None:
    """Add the BD figures against the baseline to `report`, write it to out (.json) and its table (.md)."""
    results = report["variants"]
    baseline = results[BASELINE]
    # files from before "refine_steps" was recorded name their steps only in points_after_refinement
    refine_steps = report.setdefault("refine_steps", [int(k) for k in baseline.get("points_after_refinement", {"0": 0})])
    for result in results.values():
        for legacy in ("bd_rate_vs_baseline_percent", "bd_rate_vs_baseline_after_refinement_percent"):
            result.pop(legacy, None)  # the first runs' BD-rate-only figures, recomputed below
        result["vs_baseline"] = bd_against(baseline["points"], result["points"])
        if len(refine_steps) > 1:
            result["vs_baseline_after_refinement"] = {
                key: bd_against(baseline["points_after_refinement"][key], points)
                for key, points in result["points_after_refinement"].items()
            }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")

    def cell(bd: dict) -> str:
        rate, db = bd["bd_rate_percent"], bd["bd_psnr_db"]
        return (f"{rate:+.1f} %" if rate is not None else "n/a") + (f" ({db:+.2f} dB)" if db is not None else "")

    training = report["training"]
    listed = ", ".join(map(str, refine_steps))
    how = "no refinement" if refine_steps == [0] else f"after {listed} refinement steps"
    columns = [f"BD-rate (BD-PSNR) vs baseline, {n} steps" for n in refine_steps]
    lines = [f"Trained from scratch for {training['steps']} steps of {training['batch']} crops of "
             f"{training['crop']}x{training['crop']}; measured on five Kodak 256x256 crops, qualities 2-8, {how}, "
             "ideal bits. n/a: the PSNR ranges do not overlap (BD-PSNR is over the shared rate range).", "",
             f"| variant | {' | '.join(columns)} | shared parameters | training s |",
             "|---|" + "---:|" * (len(columns) + 2)]  # fmt: skip
    for name, result in results.items():
        if len(refine_steps) == 1:
            cells = [cell(result["vs_baseline"])]
        else:
            cells = [cell(result["vs_baseline_after_refinement"][str(n)]) for n in refine_steps]
        lines.append(f"| {name} | {' | '.join(cells)} | {result['shared_parameters']:,} | {result['train_seconds']:.0f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def train_per_quality(variant, images, args, crops, refine_steps) -> tuple[float, int, dict]:
    """One model per quality, each trained for args.steps at that quality's rate code and measured there ->
    (training seconds of all, shared parameters of all, {refinement steps: points})."""
    from inrcodec.presets import QUALITY_LAMBDAS

    seconds, parameters, curves = 0.0, 0, {steps: [] for steps in refine_steps}
    for quality in QUALITIES:
        code = lambda_rate_code(QUALITY_LAMBDAS[quality])
        model, spent = train_variant(variant, images, args.steps, args.batch, args.crop, rate_code=code)
        seconds += spent
        parameters += sum(p.numel() for p in model.shared.parameters())
        for steps in refine_steps:
            curves[steps] += measure(model, crops, steps, qualities=(quality,))
    return seconds, parameters, curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared/data/train")
    parser.add_argument("--kodak", type=Path, default=ROOT.parent / "shared/data/kodak")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--variants", default="baseline,features,narrow,wide,noconv,pyramid",
                        help="comma-separated, from: " + ", ".join(SHORT_NAMES))
    parser.add_argument("--refine-steps", default="0", help="comma-separated refinement steps to measure at")
    parser.add_argument("--report", action="store_true", help="only recompute the BD figures and table of --out")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.report:
        summarise(json.loads(args.out.read_text()), args.out)
        return
    chosen = {SHORT_NAMES[key]: VARIANTS[SHORT_NAMES[key]] for key in ["baseline", *args.variants.split(",")]}
    refine_steps = [int(v) for v in args.refine_steps.split(",")]
    from PIL import Image

    from inrcodec import hardware
    from inrcodec.train.data import find_images, load_images

    images = load_images(find_images([args.data]), args.crop)
    crops = [torch.from_numpy(np.array(Image.open(args.kodak / f"{n}.png").convert("RGB"))[128:384, 256:512])
             .permute(2, 0, 1)[None].float() / 255.0 for n in IMAGES]  # fmt: skip
    results = {}
    for name, variant in chosen.items():
        if variant.get("per_quality"):
            seconds, parameters, curves = train_per_quality(variant, images, args, crops, refine_steps)
        else:
            model, seconds = train_variant(variant, images, args.steps, args.batch, args.crop)
            parameters = sum(p.numel() for p in model.shared.parameters())
            curves = {steps: measure(model, crops, steps) for steps in refine_steps}
        results[name] = {"variant": {k: (dict(v) if isinstance(v, dict) else v) for k, v in variant.items()},
                         "train_seconds": seconds, "shared_parameters": parameters, "points": curves[refine_steps[0]]}  # fmt: skip
        if len(refine_steps) > 1:
            results[name]["points_after_refinement"] = {str(steps): curves[steps] for steps in refine_steps}
        print(name, f"{seconds:.0f} s", curves, flush=True)
    report = {"images": list(IMAGES), "crop": "256x256 at top 128, left 256", "qualities": list(QUALITIES),
              "training": {"steps": args.steps, "batch": args.batch, "crop": args.crop, "seed": 0, "data": str(args.data)},
              "refine_steps": refine_steps,
              "rate": "ideal code length of the rounded latents under the variant's context model (no file)",
              "variants": results, "hardware": hardware.describe(), "torch_threads": torch.get_num_threads(),
              "command": " ".join(["python", *sys.argv]), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}  # fmt: skip
    summarise(report, args.out)


if __name__ == "__main__":
    main()
