"""Meta-training (training only): learn the shared model over random crops of natural photographs.

One outer step: sample B crops and a rate weight for each; the predictor guesses each crop's grid; the encoder's
own Meta-SGD steps (`fewstep.meta_sgd`, under quantisation noise, with the rate term) adapt grid and modulation;
the loss after rounding (straight-through) updates the MLP, modulation basis and init, quantisation steps,
Meta-SGD step sizes, rate-model scales and predictor. Each crop's loss enters as log(J), so that crops at every
quality weigh alike. Checkpoints hold the model, the optimiser and the random state, so a resumed run continues
the same sequence.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from inrcodec.analysis import ycbcr_pyramid
from inrcodec.errors import InrCodecError
from inrcodec.fewstep import Images, level_steps, meta_sgd, objective, predict
from inrcodec.field.grid import image_geometry, pixel_coords
from inrcodec.metamodel import TRAINING_PIXELS_PER_UNIT, MetaConfig, MetaModel
from inrcodec.presets import QUALITY_LAMBDAS
from inrcodec.quant import straight_through_round

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}
CHECKPOINT_NAME = "checkpoint.pt"
LOG_NAME = "train_log.jsonl"
PREDICTION_WEIGHT = 0.5


@dataclass
class TrainSettings:
    """Outer-loop settings; recorded in the checkpoint and the model card."""

    steps: int = 2400
    batch: int = 8
    crop: int = 128
    lr: float = 1.5e-3
    seed: int = 0
    checkpoint_every: int = 50
    model: MetaConfig = field(default_factory=MetaConfig)


ProgressFn = Callable[[int, dict], None]


def find_images(data_dirs: list[Path]) -> list[Path]:
    """Every image file under the given folders (recursively), sorted so a seed picks the same crops."""
    paths = []
    for folder in data_dirs:
        if not folder.is_dir():
            raise InrCodecError(f"training data folder {folder} does not exist")
        paths += [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not paths:
        raise InrCodecError(f"no images found under {', '.join(map(str, data_dirs))}")
    return sorted(paths)


def load_images(paths: list[Path], min_side: int) -> list[np.ndarray]:
    """uint8 [H, W, 3] arrays of the images at least min_side on both sides."""
    from PIL import Image

    images = []
    for path in paths:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
        if min(rgb.shape[:2]) >= min_side:
            images.append(rgb)
    if not images:
        raise InrCodecError(f"no training image is at least {min_side} px on both sides")
    return images


def sample_batch(
    images: list[np.ndarray], rng: np.random.Generator, batch: int, crop: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (crops [B, crop, crop, 3] in [0, 1], rate weights [B] log-uniform over the quality range)."""
    crops = []
    for _ in range(batch):
        image = images[rng.integers(len(images))]
        top = rng.integers(image.shape[0] - crop + 1)
        left = rng.integers(image.shape[1] - crop + 1)
        patch = image[top : top + crop, left : left + crop]
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        crops.append(np.ascontiguousarray(patch))
    lam_low, lam_high = min(QUALITY_LAMBDAS.values()), max(QUALITY_LAMBDAS.values())
    lams = np.exp(rng.uniform(math.log(lam_low), math.log(lam_high), size=batch))
    device = torch.get_default_device()
    target = torch.from_numpy(np.stack(crops)).to(device).float() / 255.0
    return target, torch.tensor(lams, dtype=torch.float32, device=device)


def crop_images(model: MetaModel, target: torch.Tensor, lams: torch.Tensor) -> Images:
    size = target.shape[1]
    levels = image_geometry(model.config.grid, size, size, TRAINING_PIXELS_PER_UNIT)
    coords = pixel_coords(size, TRAINING_PIXELS_PER_UNIT)
    return Images(levels=levels, xs=coords, ys=coords, target=target, lams=lams)


def outer_loss(model: MetaModel, images: Images) -> tuple[torch.Tensor, dict]:
    """Mean over crops of log J after the Meta-SGD steps and rounding, plus PREDICTION_WEIGHT x that of the
    rounded prediction itself; also PSNR and bpp (after the steps) for progress."""
    shapes = [tuple(reversed(level.extent)) for level in images.levels]
    pyramid = ycbcr_pyramid(images.levels, shapes, images.xs, images.ys, images.target)
    symbols = predict(model, pyramid, level_steps(model, images.lams))
    mod = torch.zeros(images.target.shape[0], model.config.mod_rank, model.config.n_inputs)
    j_predicted, mse_predicted, _ = objective(model, images, symbols, mod, straight_through_round)
    symbols, mod = meta_sgd(model, images, symbols, mod, model.config.meta_steps)
    j, mse, bits = objective(model, images, symbols, mod, straight_through_round)
    metrics = {
        "psnr": float((-10 * torch.log10(mse.detach().clamp(min=1e-10))).mean()),
        "bpp": float(bits.detach().mean()) / images.n_pixels,
        "psnr_predicted": float((-10 * torch.log10(mse_predicted.detach().clamp(min=1e-10))).mean()),
    }
    # The prediction's own loss anchors the starting point: first-order meta-gradients alone let directions that
    # the inner steps undo (a shared offset of every level, say) drift freely.
    return torch.log(j).mean() + PREDICTION_WEIGHT * torch.log(j_predicted).mean(), metrics


def make_optimiser(model: MetaModel, lr: float) -> torch.optim.Optimizer:
    """Adam; the step offsets (in step-index units) and log step sizes move on larger scales than weights."""
    fast = {"step_offset": 20 * lr, "step_slope": 5 * lr, "log_lr_grid": 5 * lr, "log_lr_mod": 5 * lr, "log_scales": 5 * lr, "mod_log_scale": 5 * lr}
    groups = [{"params": [p], "lr": fast.get(name, lr)} for name, p in model.named_parameters()]
    return torch.optim.Adam(groups)


def train(
    data_dirs: list[Path],
    out_dir: Path,
    settings: TrainSettings,
    resume: bool = False,
    progress: ProgressFn | None = None,
) -> tuple[MetaModel, dict, int]:
    """Run (or resume) meta-training; checkpoints and a JSON-lines log go to out_dir.

    -> (the trained model, the last step's metrics incl. "seconds" of training, number of training images)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out_dir / CHECKPOINT_NAME
    images = load_images(find_images(data_dirs), settings.crop)
    torch.manual_seed(settings.seed)
    model = MetaModel(settings.model)
    optimiser = make_optimiser(model, settings.lr)
    # Taken before a checkpoint's optimiser state, whose learning rates are already scaled by the schedule.
    scheduler_base = [group["lr"] for group in optimiser.param_groups]
    rng = np.random.default_rng(settings.seed)
    start_step, elapsed = 0, 0.0
    if resume and checkpoint_path.exists():
        state = torch.load(checkpoint_path, weights_only=False, map_location=torch.get_default_device())
        if state["settings"] != asdict(settings):
            raise InrCodecError(f"{checkpoint_path} was written with other settings; use a new --out or drop --resume")
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"].cpu())
        start_step, elapsed = state["step"], state["elapsed"]
    metrics = {"step": start_step, "seconds": elapsed}
    started = time.perf_counter() - elapsed
    with (out_dir / LOG_NAME).open("a") as log:
        for step in range(start_step, settings.steps):
            cosine = 0.5 * (1 + math.cos(math.pi * step / settings.steps))
            for group, base in zip(optimiser.param_groups, scheduler_base):
                group["lr"] = base * (0.1 + 0.9 * cosine)
            target, lams = sample_batch(images, rng, settings.batch, settings.crop)
            loss, metrics = outer_loss(model, crop_images(model, target, lams))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            metrics = {"step": step + 1, "loss": float(loss.detach()), **metrics, "seconds": time.perf_counter() - started}
            log.write(json.dumps(metrics) + "\n")
            if progress is not None:
                progress(step, metrics)
            if (step + 1) % settings.checkpoint_every == 0 or step + 1 == settings.steps:
                log.flush()
                save_checkpoint(checkpoint_path, model, optimiser, rng, step + 1, metrics["seconds"], settings)
    return model, metrics, len(images)


def save_checkpoint(path: Path, model, optimiser, rng, step: int, elapsed: float, settings: TrainSettings) -> None:
    state = {
        "model": model.state_dict(),
        "optimiser": optimiser.state_dict(),
        "numpy_rng": rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "step": step,
        "elapsed": elapsed,
        "settings": asdict(settings),
    }
    temporary = path.with_suffix(".tmp")
    torch.save(state, temporary)
    temporary.replace(path)


def export_model(model: MetaModel, out_dir: Path, model_id: str, card: str, default: bool) -> Path:
    """Write out_dir/model.safetensors and CARD.md, and register the model in out_dir.parent/MANIFEST.json."""
    from inrcodec.models import CARD_NAME, register_model, save_model

    config = model.config.to_dict()
    weights = save_model(out_dir, model_id, {k: v.cpu() for k, v in model.to_tensors().items()}, config)
    (out_dir / CARD_NAME).write_text(card)
    register_model(out_dir.parent, model_id, weights, config, default=default)
    return weights


def training_card(model_id: str, settings: TrainSettings, data_dirs: list[Path], n_images: int, command: str,
                  hardware: str, wall_seconds: float, final: dict) -> str:
    """The model card's training section (results are added by the benchmarks that measure them)."""
    lines = [
        f"# {model_id}",
        "",
        "Meta-learned model for inrcodec: shared MLP, instance-modulation basis and init, per-level quantisation",
        "steps, Meta-SGD step sizes, rate-model scales and the encoder's predictor (see inrcodec/metamodel.py).",
        "",
        "## Training",
        "",
        f"- Command: `{command}`",
        f"- Data: {', '.join(str(d) for d in data_dirs)} ({n_images} images, random {settings.crop}x{settings.crop} crops,",
        "  horizontal flips; rate weights log-uniform over the quality range)",
        f"- Outer steps: {settings.steps}, batch {settings.batch} crops, Adam lr {settings.lr} (cosine), seed {settings.seed}",
        f"- Inner loop: {settings.model.meta_steps} first-order Meta-SGD steps with quantisation noise and the rate term",
        f"- Config: `{json.dumps(settings.model.to_dict(), sort_keys=True)}`",
        f"- Hardware: {hardware}",
        f"- Wall time: {wall_seconds / 60:.1f} min",
        f"- Last step: loss {final.get('loss', float('nan')):.4f}, crop PSNR {final.get('psnr', float('nan')):.2f} dB, "
        f"{final.get('bpp', float('nan')):.3f} bpp (one batch, after the Meta-SGD steps and rounding)",
        "",
    ]
    return "\n".join(lines)
