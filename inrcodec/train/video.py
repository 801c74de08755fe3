"""Video meta-training (training only): extend a v1 image model (base-v1) with what coding frames as residuals needs.

The image model's tensors stay frozen, so a group's first frame is coded exactly as with that model alone. Learned: the
Meta-SGD step sizes of a residual (`residual_log_lr_grid` [L]) and the rate model's starting scales under the inter
contexts (`residual_log_scales` [L, F, 6]). Training clips are made from still photographs with synthetic motion
(never from evaluation footage): three crops of one photo, the window moving by a constant integer camera shift,
often with a patch of the photo moving across it as an object, each frame with its own sensor noise. One outer
step codes frame 0 as the encoder does (prediction and the model's Meta-SGD steps, rounded), then frames 1 and 2
as residuals with the residual Meta-SGD steps; the loss is the mean of log J of both after rounding.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from inrcodec.presets import QUALITY_LAMBDAS
from inrcodec.train.data import find_images, load_images
from inrcodec.video.v1.analysis import ycbcr_pyramid
from inrcodec.video.v1.fewstep import Images, Reference, level_steps, meta_sgd, objective, predict
from inrcodec.video.v1.grid import image_geometry, pixel_coords
from inrcodec.video.v1.metamodel import TRAINING_PIXELS_PER_UNIT, MetaConfig, MetaModel
from inrcodec.video.v1.quant import straight_through_round

MAX_CAMERA_SHIFT = 2  # pixels per frame
MAX_OBJECT_SPEED = 4
MAX_NOISE = 3.0  # standard deviation in 8-bit levels
N_FRAMES = 3

ProgressFn = Callable[[int, dict], None]


@dataclass
class VideoTrainSettings:
    """Outer-loop settings; recorded in the model card."""

    steps: int = 250
    batch: int = 8
    crop: int = 96
    lr: float = 0.005
    seed: int = 0
    video_meta_steps: int = 10


def synthetic_clip(image: np.ndarray, rng: np.random.Generator, crop: int) -> np.ndarray:
    """uint8 [H, W, 3] photo -> uint8 [N_FRAMES, crop, crop, 3]: a moving window, maybe a moving patch, noise."""
    margin = (N_FRAMES - 1) * MAX_CAMERA_SHIFT
    height, width = image.shape[:2]
    top = rng.integers(margin, height - crop - margin + 1)
    left = rng.integers(margin, width - crop - margin + 1)
    shift = rng.integers(-MAX_CAMERA_SHIFT, MAX_CAMERA_SHIFT + 1, size=2) * (rng.random() < 0.6)
    size = int(rng.integers(crop // 6, crop // 2))
    source = (rng.integers(0, height - size + 1), rng.integers(0, width - size + 1))
    patch = image[source[0] : source[0] + size, source[1] : source[1] + size]
    velocity = rng.integers(-MAX_OBJECT_SPEED, MAX_OBJECT_SPEED + 1, size=2)
    start = rng.integers(0, crop - size + 1, size=2)
    has_object = rng.random() < 0.7
    sigma = rng.uniform(0.0, MAX_NOISE)
    frames = []
    for t in range(N_FRAMES):
        y, x = top + t * shift[0], left + t * shift[1]
        frame = image[y : y + crop, x : x + crop].astype(np.float64)
        if has_object:
            py, px = np.clip(start + t * velocity, 0, crop - size)
            frame[py : py + size, px : px + size] = patch
        frame += rng.normal(0.0, sigma, frame.shape)
        frames.append(np.clip(np.round(frame), 0, 255).astype(np.uint8))
    return np.stack(frames)


def sample_clips(images, rng, batch: int, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (frames [N_FRAMES, B, crop, crop, 3] in [0, 1], rate weights [B] log-uniform over the qualities)."""
    clips = [synthetic_clip(images[rng.integers(len(images))], rng, crop) for _ in range(batch)]
    lam_low, lam_high = min(QUALITY_LAMBDAS.values()), max(QUALITY_LAMBDAS.values())
    lams = np.exp(rng.uniform(math.log(lam_low), math.log(lam_high), size=batch))
    frames = torch.from_numpy(np.stack(clips, axis=1)).float() / 255.0
    return frames, torch.tensor(lams, dtype=torch.float32)


def crop_images(model: MetaModel, target: torch.Tensor, lams: torch.Tensor) -> Images:
    """B square crops [B, S, S, 3] on the grid geometry of an S x S image at the training unit."""
    size = target.shape[1]
    levels = image_geometry(model.config.grid, size, size, TRAINING_PIXELS_PER_UNIT)
    coords = pixel_coords(size, TRAINING_PIXELS_PER_UNIT)
    return Images(levels=levels, xs=coords, ys=coords, target=target, lams=lams)


def outer_loss(model: MetaModel, frames: torch.Tensor, lams: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """Mean log J of frames 1 and 2 coded as residuals (after rounding); frame 0 is coded as the encoder does."""
    mod = torch.zeros(frames.shape[1], model.config.mod_rank, model.config.n_inputs)
    images = crop_images(model, frames[0], lams)
    shapes = [tuple(reversed(level.extent)) for level in images.levels]
    pyramid = ycbcr_pyramid(images.levels, shapes, images.xs, images.ys, images.target)
    with torch.no_grad():
        start = predict(model, pyramid, level_steps(model, lams))
    first, _ = meta_sgd(model, images, start, mod, model.config.meta_steps, fit_modulation=False)
    reference = Reference([torch.round(s.detach()) for s in first])
    losses, psnrs, bpps = [], [], []
    for t in range(1, N_FRAMES):
        images = crop_images(model, frames[t], lams)
        residual = [torch.zeros_like(b) for b in reference.base]
        residual, _ = meta_sgd(
            model, images, residual, mod, model.config.video_meta_steps, fit_modulation=False,
            reference=reference, log_lr_grid=model.residual_log_lr_grid, log_scales=model.residual_log_scales,
        )
        j, mse, bits = objective(
            model, images, residual, mod, straight_through_round, model.residual_log_scales,
            fit_modulation=False, reference=reference,
        )
        losses.append(torch.log(j).mean())
        psnrs.append(float((-10 * torch.log10(mse.detach().clamp(min=1e-10))).mean()))
        bpps.append(float(bits.detach().mean()) / images.n_pixels)
        rounded = [torch.round(r.detach()) for r in residual]
        reference = Reference([b + r for b, r in zip(reference.base, rounded)], rounded)
    return torch.stack(losses).mean(), {"psnr": float(np.mean(psnrs)), "bpp": float(np.mean(bpps))}


def video_model_from(base: MetaModel, video_meta_steps: int) -> MetaModel:
    """A video model holding a copy of `base`'s tensors (frozen) and fresh residual parameters (trainable)."""
    config = MetaConfig.from_dict({**base.config.to_dict(), "video_meta_steps": video_meta_steps})
    with torch.random.fork_rng():
        model = MetaModel(config)
    model.load_state_dict(base.state_dict(), strict=False)
    with torch.no_grad():
        model.residual_log_lr_grid.copy_(base.log_lr_grid)
    model.requires_grad_(False)
    model.residual_log_lr_grid.requires_grad_(True)
    model.residual_log_scales.requires_grad_(True)
    return model


def train_video(
    data_dirs: list[Path], out_dir: Path, base: MetaModel, settings: VideoTrainSettings, progress: ProgressFn | None = None
) -> tuple[MetaModel, dict, int]:
    """Learn the residual parameters on synthetic clips; a JSON-lines log goes to out_dir.
    -> (the video model, the last step's metrics incl. "seconds", number of training images)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = load_images(find_images(data_dirs), settings.crop + 2 * (N_FRAMES - 1) * MAX_CAMERA_SHIFT)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    model = video_model_from(base, settings.video_meta_steps)
    trained = [model.residual_log_lr_grid, model.residual_log_scales]
    optimiser = torch.optim.Adam(trained, lr=settings.lr)
    started = time.perf_counter()
    metrics: dict = {}
    with (out_dir / "video_train_log.jsonl").open("w") as log:
        for step in range(settings.steps):
            for group in optimiser.param_groups:
                group["lr"] = settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / settings.steps)))
            frames, lams = sample_clips(images, rng, settings.batch, settings.crop)
            loss, metrics = outer_loss(model, frames, lams)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            optimiser.step()
            metrics = {"step": step + 1, "loss": float(loss.detach()), **metrics, "seconds": time.perf_counter() - started}
            log.write(json.dumps(metrics) + "\n")
            if progress is not None:
                progress(step, metrics)
    model.requires_grad_(False)
    return model, metrics, len(images)


def export_model(model: MetaModel, out_dir: Path, model_id: str, card: str, default: bool = False) -> Path:
    """Write out_dir/model.safetensors and CARD.md, and register the model in out_dir.parent/MANIFEST.json."""
    from inrcodec.model.registry import CARD_NAME, register_model, save_model

    config = model.config.to_dict()
    weights = save_model(out_dir, model_id, {k: v.cpu() for k, v in model.to_tensors().items()}, config)
    (out_dir / CARD_NAME).write_text(card)
    register_model(out_dir.parent, model_id, weights, config, default=default)
    return weights


def video_training_card(model_id: str, base_id: str, settings: VideoTrainSettings, data_dirs: list[Path],
                        n_images: int, command: str, hardware: str, final: dict) -> str:
    lines = [
        f"# {model_id}",
        "",
        f"Video model for inrcodec: every tensor of the image model `{base_id}` (frozen, so a group's first frame is",
        "coded exactly as an image), plus the Meta-SGD step sizes and starting rate scales of a frame coded as the",
        "integer residual from the frame before (see inrcodec/train/video.py and inrcodec/video/codec.py).",
        "",
        "## Training",
        "",
        f"- Command: `{command}`",
        f"- Data: {', '.join(str(d) for d in data_dirs)} ({n_images} still photographs; no video footage). Synthetic",
        f"  clips of {N_FRAMES} frames: {settings.crop}x{settings.crop} windows moving by a constant camera shift of up to",
        f"  {MAX_CAMERA_SHIFT} px a frame (60 % of clips), a patch of the photo moving up to {MAX_OBJECT_SPEED} px a frame",
        f"  (70 %), Gaussian noise of sigma up to {MAX_NOISE} levels per frame; rate weights log-uniform over the qualities",
        f"- Outer steps: {settings.steps}, batch {settings.batch} clips, Adam lr {settings.lr} (cosine), seed {settings.seed}",
        f"- Inner loop: frame 0 as the encoder codes it; frames 1 and 2 as residuals with {settings.video_meta_steps}",
        "  first-order Meta-SGD steps each, loss = mean log J after rounding",
        f"- Settings: `{json.dumps(asdict(settings), sort_keys=True)}`",
        f"- Hardware: {hardware}",
        f"- Wall time: {final.get('seconds', float('nan')) / 60:.1f} min",
        f"- Last step: loss {final.get('loss', float('nan')):.4f}, residual frames {final.get('psnr', float('nan')):.2f} dB, "
        f"{final.get('bpp', float('nan')):.3f} bpp (one batch, after the Meta-SGD steps and rounding)",
        "",
    ]
    return "\n".join(lines)
