"""Training of the v2 image model: shared decoder (gains, synthesis, context model) and analysis network.

One step: B random crops, each with a rate code t drawn uniformly over [0, 255]; the analysis network predicts
the latents (with inner_steps > 0, each crop's latents then take that many steps of the encoder's own
refinement against the current decoder, added as a constant: first-order, so the decoder learns on latents like
those it will be sent and the gradient still reaches the analysis network); the distortion is measured through
straight-through rounding (what the decoder sees), the rate under the context model at the latents plus
uniform noise (contexts from the rounded neighbours, as decoded); each crop's loss is log(MSE + lambda(t) bpp),
so that every quality weighs alike. Checkpoints hold the networks, the optimiser, the data and noise
generators and the wall time so far, so a resumed run continues the same sequence.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from inrcodec.encoder.model_torch import CodecModel
from inrcodec.encoder.shared_torch import laplace_bits
from inrcodec.model.config import LAMBDA_MAX, LAMBDA_MIN, RATE_CODES, ModelConfig
from inrcodec.train.data import find_images, load_images, random_crops

CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "train_log.jsonl"
LOG_EVERY = 20


@dataclass
class TrainSettings:
    """Settings of a training run; recorded in the checkpoint and the model card."""

    steps: int = 20000
    batch: int = 4
    crop: int = 256
    lr: float = 1e-3
    warmup: int = 200
    decay_fraction: float = 0.15  # the last 15 % of the steps decay the learning rate (cosine, to 2 %)
    seed: int = 0
    inner_steps: int = 0  # encoder refinement steps per crop inside each training step (0: the prediction as is)
    checkpoint_minutes: float = 3.0
    model: ModelConfig = field(default_factory=ModelConfig)


ProgressFn = Callable[[int, dict], None]


def lambdas_of(rate_codes: torch.Tensor) -> torch.Tensor:
    frac = rate_codes / (RATE_CODES - 1)
    return torch.exp(math.log(LAMBDA_MAX) + frac * (math.log(LAMBDA_MIN) - math.log(LAMBDA_MAX)))


def latents_loss(
    model: CodecModel, latents: list[torch.Tensor], target: torch.Tensor, rate_codes: torch.Tensor
) -> tuple[torch.Tensor, dict]:
    """Float latents (finest first) [B, 1, h, w] of target [B, 3, H, W] in [0, 1] at rate_codes [B] -> (mean
    log J, metrics for progress): distortion through straight-through rounding, rate at the latents plus
    uniform noise."""
    height, width = target.shape[-2:]
    rounded = [y + (torch.round(y) - y).detach() for y in latents]
    params = model.shared.distribution(rounded, rate_codes)
    bits = sum(
        laplace_bits(y + torch.empty_like(y).uniform_(-0.5, 0.5), mean, log_scale).sum(dim=(1, 2, 3))
        for y, (mean, log_scale) in zip(latents, params)
    )
    recon = model.shared.render(rounded, rate_codes, height, width)
    mse = ((recon - target) ** 2).mean(dim=(1, 2, 3))
    bpp = bits / (height * width)
    loss = torch.log(mse + lambdas_of(rate_codes) * bpp).mean()
    metrics = {
        "loss": float(loss.detach()),
        "psnr": float((-10 * torch.log10(mse.detach().clamp(min=1e-10))).mean()),
        "bpp": float(bpp.detach().mean()),
    }
    return loss, metrics


def refined_latents(
    model: CodecModel, latents: list[torch.Tensor], target: torch.Tensor, rate_codes: torch.Tensor, steps: int
) -> list[torch.Tensor]:
    """Latents (finest first) [B, 1, h, w] -> each crop's latents after `steps` steps of the encoder's refinement
    (inrcodec.encoder.refine, at the crop's own rate code) against the current networks, as the prediction plus
    a constant, so that gradients still flow into the analysis network."""
    from inrcodec.encoder.refine import refine
    from inrcodec.model.config import rate_code_lambda

    trainable = [p for p in model.parameters() if p.requires_grad]
    for p in trainable:  # the inner steps move the latents only
        p.requires_grad_(False)
    try:
        moved = []
        for i, code in enumerate(rate_codes.tolist()):
            start = [y[i : i + 1].detach() for y in latents]
            refined = refine(model, start, target[i : i + 1], code, rate_code_lambda(code), steps, modulate=False)
            moved.append(refined.latents)
    finally:
        for p in trainable:
            p.requires_grad_(True)
    return [y + (torch.cat([m[level] for m in moved]) - y).detach() for level, y in enumerate(latents)]


def learning_rate(settings: TrainSettings, step: int) -> float:
    if step < settings.warmup:
        return settings.lr * (step + 1) / settings.warmup
    decay_start = int(settings.steps * (1 - settings.decay_fraction))
    if step < decay_start:
        return settings.lr
    progress = (step - decay_start) / max(1, settings.steps - decay_start)
    return settings.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def _save_checkpoint(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train(
    data_dirs: list[Path],
    out_dir: Path,
    settings: TrainSettings,
    resume: bool = False,
    progress: ProgressFn | None = None,
    command: str = "",
) -> tuple[CodecModel, dict, int]:
    """Train (or resume) into out_dir -> (model, last metrics with total "seconds" and the "runs" so far, number
    of images). command: recorded with this run's first step in the checkpoint's list of runs (for the card)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out_dir / CHECKPOINT_NAME
    images = load_images(find_images(data_dirs), settings.crop)
    torch.manual_seed(settings.seed)
    model = CodecModel(settings.model)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.lr)
    rng = np.random.default_rng(settings.seed)
    start, elapsed, runs = 0, 0.0, []
    if resume:
        if not checkpoint_path.exists():
            raise FileNotFoundError(f"no checkpoint to resume at {checkpoint_path}")
        state = torch.load(checkpoint_path, weights_only=False, map_location=torch.get_default_device())
        if state["model_config"] != settings.model.to_dict():
            raise ValueError("the checkpoint was trained with another model configuration")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"].cpu())
        start, elapsed, runs = state["step"], state["seconds"], state.get("runs", [])
    runs = runs + [{"from_step": start, "command": command}]
    log = (out_dir / LOG_NAME).open("a" if resume else "w")
    began = time.perf_counter()
    last_save = began
    metrics: dict = {}

    def checkpoint(step: int) -> None:
        _save_checkpoint(checkpoint_path, {
            "step": step, "model": model.state_dict(), "optimiser": optimiser.state_dict(),
            "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
            "seconds": elapsed + time.perf_counter() - began, "settings": asdict(settings),
            "model_config": settings.model.to_dict(), "runs": runs,
        })  # fmt: skip

    for step in range(start, settings.steps):
        for group in optimiser.param_groups:
            group["lr"] = learning_rate(settings, step)
        crops = random_crops(images, rng, settings.batch, settings.crop)
        device = torch.get_default_device()
        target = torch.from_numpy(crops).to(device).permute(0, 3, 1, 2).float() / 255.0
        rate_codes = torch.from_numpy(rng.uniform(0, RATE_CODES - 1, size=settings.batch)).to(device).float()
        latents = model.analysis(target, rate_codes, model.shared.log_gains(rate_codes))
        if settings.inner_steps:
            latents = refined_latents(model, latents, target, rate_codes, settings.inner_steps)
        loss, metrics = latents_loss(model, latents, target, rate_codes)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        metrics["seconds"] = elapsed + time.perf_counter() - began
        if (step + 1) % LOG_EVERY == 0 or step + 1 == settings.steps:
            log.write(json.dumps({"step": step + 1, **metrics}) + "\n")
            log.flush()
        if time.perf_counter() - last_save > settings.checkpoint_minutes * 60 or step + 1 == settings.steps:
            checkpoint(step + 1)
            last_save = time.perf_counter()
        if progress is not None:
            progress(step, metrics)
    log.close()
    metrics.setdefault("seconds", elapsed)
    metrics["runs"] = runs
    return model, metrics, len(images)


def model_tensors(model: CodecModel) -> dict[str, torch.Tensor]:
    """The weights to ship: the shared decoder under "shared." and the encoder-only analysis under "analysis."."""
    return {name: tensor.detach().cpu().contiguous() for name, tensor in model.state_dict().items()}


def export_model(model: CodecModel, out_dir: Path, model_id: str, card: str, default: bool) -> Path:
    """Write out_dir/model.safetensors and CARD.md, and register the model in out_dir.parent/MANIFEST.json."""
    from inrcodec.model.registry import CARD_NAME, register_model, save_model

    config = {"codec": 2, **model.shared.config.to_dict()}
    weights = save_model(out_dir, model_id, model_tensors(model), config)
    (out_dir / CARD_NAME).write_text(card)
    register_model(out_dir.parent, model_id, weights, config, default=default)
    return weights


def _run_ends(runs: list[dict], steps_done: int) -> list[tuple[dict, int]]:
    """Each run with the step it reached: where the next run resumed, or steps_done for the last one."""
    ends = [run["from_step"] for run in runs[1:]] + [steps_done]
    return list(zip(runs, ends))


def training_card(model_id: str, settings: TrainSettings, data_dirs: list[Path], n_images: int, hardware: str,
                  final: dict, steps_done: int) -> str:
    """The model card's training section (results are added by the benchmarks that measure them)."""
    lines = [
        f"# {model_id}",
        "",
        "Shared model of inrcodec's v2 image codec: per-level latent gains, the synthesis (per-pixel MLP and",
        "residual 3x3 convolutions), the checkerboard context model of the entropy coder, and the encoder-only",
        "analysis network (inrcodec/encoder/shared_torch.py, analysis_net.py; trained by inrcodec/train/image.py).",
        "",
        "## Training",
        "",
        "- Commands (each run resumed the one before from its checkpoint):",
        *(f"  - steps {run['from_step']}..{end}: `{run['command']}`" for run, end in _run_ends(final.get("runs", []), steps_done)),
        f"- Data: {', '.join(str(d) for d in data_dirs)} ({n_images} images, random {settings.crop}x{settings.crop}"
        " crops, horizontal flips; rate codes uniform over 0..255, i.e. lambda log-uniform)",
        f"- Steps: {steps_done} of {settings.steps}, batch {settings.batch} crops, Adam lr {settings.lr} "
        f"(warm-up {settings.warmup}, cosine decay over the last {settings.decay_fraction:.0%}), seed {settings.seed}"
        + (f", {settings.inner_steps} encoder refinement steps per crop in the loop" if settings.inner_steps else ""),
        f"- Config: `{json.dumps(settings.model.to_dict(), sort_keys=True)}`",
        f"- Hardware: {hardware}",
        f"- Wall time: {final.get('seconds', 0.0) / 60:.1f} min in total, over all resumed runs",
        f"- Last step: loss {final.get('loss', float('nan')):.4f}, crop PSNR {final.get('psnr', float('nan')):.2f} dB, "
        f"{final.get('bpp', float('nan')):.3f} bpp (one batch; rate estimated, for progress only)",
        "",
    ]
    return "\n".join(lines)
