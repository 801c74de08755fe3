"""The video pipeline: encode a clip to a .inr video file (format 1.2) and decode it, all frames or one.

A clip is cut into groups of `gop` frames. Frame t of a group has its own grid G_t on the frame's geometry (the
v1 field of video/v1/), read by the shared MLP of a v1 model (presets.VIDEO_MODEL unless another is named); the
file codes G_0 (as a v1 image file did) and then, for t > 0, the integer residual R_t = G_t - G_{t-1}. Where
nothing moved, the residual is zero and costs almost nothing: that is how the field exploits time. Each frame
has its own ANS stream, so decoding frame k entropy-decodes the residuals of its group up to k (integer
additions) and renders one frame, never the clip.

Memory is bounded by a frame and a grid, whatever the clip's length: frames are read one at a time, the encoder
keeps only the previous frame's integer grid, and the decoder yields frames as it renders them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from inrcodec.encoder.result import EncodeResult
from inrcodec.errors import BitstreamError, InrCodecError
from inrcodec.metrics import psnr
from inrcodec.presets import (
    DEFAULT_GOP,
    DEFAULT_MODEL,
    DEFAULT_PRESET,
    DEFAULT_QUALITY,
    QUALITY_LAMBDAS,
    VIDEO_MODEL,
    VIDEO_PRESET_STEPS,
)
from inrcodec.video.file import MAX_FRAMES, VideoFile
from inrcodec.media.video import open_video
from inrcodec.video.v1 import context
from inrcodec.video.v1 import groups as entropy
from inrcodec.encoder.refine import deterministic_kernels
from inrcodec.video.v1.context import N_CONTEXTS
from inrcodec.video.v1.fewstep import Images, Reference, RefineSchedule, level_steps, meta_sgd, predict, refine
from inrcodec.video.v1.header import MAX_SYMBOL, quant_step
from inrcodec.video.v1.inr import to_uint8
from inrcodec.video.v1.levels import code_levels, field_config_record, levels_from_file
from inrcodec.video.v1.model import (
    Analysis,
    LoadedModel,
    analyse,
    check_config_matches,
    load_model,
    load_model_for_file,
    render_in_bands,
)
from inrcodec.video.v1.quant import quantise

SEED = 0
# A group's first frame is fitted at half the rate weight (with the group's quantisation steps): every later frame
# starts from it. On BasketballPass (16 frames, quality 4) this gave +0.39 dB for +4.6 % bits.
FIRST_FRAME_LAMBDA_SCALE = 0.5

FrameProgress = Callable[[int, dict], None]


@dataclass(frozen=True)
class FrameStream:
    """One coded frame: its ANS stream and its table indices (n_levels x n_features x 6, level-major)."""

    data: bytes
    tables: list[int]


def encode_video(
    source: str | os.PathLike,
    quality: int = DEFAULT_QUALITY,
    preset: str = DEFAULT_PRESET,
    model: str = DEFAULT_MODEL,
    gop: int = DEFAULT_GOP,
    progress: FrameProgress | None = None,
    steps: tuple[int, int] | None = None,
) -> EncodeResult:
    """Encode the clip at `source` (anything `open_video` reads). steps: (first frame, later frames) of a group;
    default from the preset. progress(frame index, {"frames", "bytes"}) after each frame (bytes coded so far).

    stats (measured by decoding the bytes written and comparing with a second read of the source): bytes, bpp
    (file bytes x 8 / (width x height x frames)), psnr_rgb (mean over frames), encode_seconds, frames, ..."""
    if quality not in QUALITY_LAMBDAS:
        raise InrCodecError(f"quality must be one of 1..8, got {quality}")
    if preset not in VIDEO_PRESET_STEPS:
        raise InrCodecError(f"unknown preset {preset!r} (choose from {', '.join(VIDEO_PRESET_STEPS)})")
    if not 1 <= gop <= 1024:
        raise InrCodecError(f"--gop must be between 1 and 1024, got {gop}")
    start = time.perf_counter()
    reader = open_video(source)
    loaded = load_model(video_model_id(model))
    first_steps, later_steps = steps if steps is not None else VIDEO_PRESET_STEPS[preset]
    lam = QUALITY_LAMBDAS[quality]
    step_indices = loaded.model.step_indices(lam)
    streams: list[FrameStream] = []
    analysis = grid = residual = None
    for index, rgb in enumerate(reader.frames()):
        if index >= MAX_FRAMES:
            raise InrCodecError(f"{source} has more than {MAX_FRAMES} frames")
        analysis = analyse(rgb, loaded.model.config)  # open_video refuses frames of another size
        position = index % gop
        reference = None
        if position:
            reference = Reference(base=grid, previous=residual if position > 1 else None)
        new_grid = encode_frame(loaded, analysis, lam, reference, first_steps if reference is None else later_steps)
        residual = new_grid if reference is None else [g - b for g, b in zip(new_grid, grid)]
        streams.append(code_frame(analysis, residual, step_indices, reference))
        grid = new_grid
        if progress is not None:
            progress(index, {"frames": index + 1, "bytes": sum(len(s.data) for s in streams)})
    fps = reader.info.fps
    data = write_video_file(loaded, analysis, step_indices, streams, gop, fps)
    encode_seconds = time.perf_counter() - start
    scores = [psnr(original, decoded) for original, decoded in zip(open_video(source).frames(), decode_video(data))]
    n_frames = len(streams)
    stats = {
        "bytes": len(data),
        "bpp": len(data) * 8 / (analysis.width * analysis.height * n_frames),
        "psnr_rgb": float(np.mean(scores)),
        "encode_seconds": encode_seconds,
        "frames": n_frames,
        "width": analysis.width,
        "height": analysis.height,
        "fps": None if fps is None else float(fps),
        "gop": gop,
        "steps": [first_steps, later_steps],
        "quality": quality,
        "preset": preset,
        "lambda": lam,
        "model": loaded.entry.id,
    }
    return EncodeResult(data=data, stats=stats)


def video_model_id(model: str) -> str:
    """The installed model a clip is coded with: presets.VIDEO_MODEL for "default" (the manifest's default is an
    image model)."""
    return VIDEO_MODEL if model == DEFAULT_MODEL else model


def encode_frame(
    loaded: LoadedModel, analysis: Analysis, lam: float, reference: Reference | None, n_steps: int
) -> list[torch.Tensor]:
    """The integer grid symbols of one frame, per level int64 [1, ey, ex, F]. reference: what the residual is
    fitted against (the frame before), or None for a group's first frame (fitted as an image)."""
    model = loaded.model
    fit_lam = lam * FIRST_FRAME_LAMBDA_SCALE if reference is None else lam
    images = Images(analysis.levels, analysis.xs, analysis.ys, analysis.target, torch.tensor([fit_lam]), torch.tensor([lam]))
    mod = torch.zeros(1, model.config.mod_rank, model.config.n_inputs)
    with torch.random.fork_rng(), deterministic_kernels(), torch.no_grad():
        torch.manual_seed(SEED)
        if reference is None:
            meta_steps = min(n_steps, model.config.meta_steps)
            start = predict(model, analysis.pyramid, level_steps(model, images.steps_of))
            start, _ = meta_sgd(model, images, start, mod, meta_steps, fit_modulation=False)
            fitted, _, _ = refine(model, images, start, mod, RefineSchedule(n_steps - meta_steps), fit_modulation=False)
            return [torch.round(s).clamp(-MAX_SYMBOL, MAX_SYMBOL).long() for s in fitted]
        floats = Reference(
            [b.float() for b in reference.base],
            None if reference.previous is None else [p.float() for p in reference.previous],
        )
        residual_lr, residual_scales = _residual_parameters(model)
        meta_steps = min(n_steps, model.config.video_meta_steps)
        start = [torch.zeros_like(b) for b in floats.base]
        start, _ = meta_sgd(
            model, images, start, mod, meta_steps, fit_modulation=False, reference=floats,
            log_lr_grid=residual_lr, log_scales=residual_scales,
        )
        schedule = RefineSchedule(n_steps - meta_steps)
        fitted, _, _ = refine(
            model, images, start, mod, schedule, fit_modulation=False, reference=floats, log_scales=residual_scales
        )
        # The residual is what the file codes, so it is what must fit the coder's alphabet.
        return [b + quantise(r, 1.0).long() for b, r in zip(reference.base, fitted)]


def _residual_parameters(model) -> tuple[torch.Tensor, torch.Tensor]:
    """A video model's residual step sizes and scales; an image-only model's own, as a fallback."""
    if model.config.video_meta_steps:
        return model.residual_log_lr_grid, model.residual_log_scales
    return model.log_lr_grid, model.log_scales


def code_frame(
    analysis: Analysis, symbols: list[torch.Tensor], step_indices: list[int], reference: Reference | None
) -> FrameStream:
    """Entropy-code one frame's symbols into its own stream: a group's first frame (reference None) codes its
    grid as an image does, a later frame its residual under the inter contexts. symbols: per level [1, ey, ex, F]."""
    encoder = entropy.SymbolEncoder()
    if reference is None:
        records = code_levels(encoder, analysis.levels, [s[0] for s in symbols], step_indices)
        return FrameStream(encoder.to_bytes(), [t for record in records for t in record["tables"]])
    tables: list[int] = []
    parent = None
    for level, plane_stack in enumerate(symbols):
        planes = plane_stack[0].to(torch.int32).numpy()
        before = None if reference.previous is None else reference.previous[level][0].to(torch.int32).numpy()
        for feature in range(planes.shape[-1]):
            chunks = context.inter_plane_chunks(
                planes[..., feature],
                None if parent is None else parent[..., feature],
                None if before is None else before[..., feature],
            )
            plane_tables = [entropy.ALL_ZERO] * N_CONTEXTS
            for values, ctx in chunks:
                group = entropy.best_group(values)
                plane_tables[ctx] = group.table_index
                encoder.add(group.symbols, group.table_index)
            tables += plane_tables
        parent = planes
    return FrameStream(encoder.to_bytes(), tables)


def write_video_file(
    loaded: LoadedModel,
    analysis: Analysis,
    step_indices: list[int],
    streams: list[FrameStream],
    gop: int,
    fps: Fraction | None,
) -> bytes:
    """Assemble the format 1.2 file. fps None is written as 0/1 (unknown)."""
    config = loaded.model.config
    levels = [
        {
            "scale": level.scale,
            "res": level.res,
            "extent_x": level.extent[0],
            "extent_y": level.extent[1],
            "quant_step": step_index,
        }
        for level, step_index in zip(analysis.levels, step_indices)
    ]
    gops = []
    for first in range(0, len(streams), gop):
        group = streams[first : first + gop]
        frames = [{"length": len(s.data), "tables": s.tables} for s in group]
        gops.append({"first_frame": first, "n_frames": len(group), "frames": frames})
    rate = Fraction(0) if fps is None else Fraction(fps).limit_denominator(1 << 20)
    video = {"frame_count": len(streams), "fps_num": rate.numerator, "fps_den": rate.denominator, "gop_size": gop}
    file = VideoFile(
        image={"width": analysis.width, "height": analysis.height, "channels": 3, "bit_depth": 8},
        model_id=loaded.entry.id,
        model_sha256=loaded.sha256_bytes,
        video=video,
        field_config=field_config_record(config.grid, config.mlp, analysis.pixels_per_unit),
        levels=levels,
        gops=gops,
        payload=b"".join(s.data for s in streams),
    )
    return file.to_bytes()


# -- decoding ---------------------------------------------------------------------------------------------------


@dataclass
class _Decoder:
    """A parsed video file with its model and geometry, ready to decode groups and render frames."""

    file: VideoFile
    loaded: LoadedModel
    levels: list

    @classmethod
    def open(cls, data: bytes) -> "_Decoder":
        file = VideoFile.from_bytes(data)
        loaded = load_model_for_file(file.model_id, file.model_sha256)
        check_config_matches(file, loaded.model.config)
        return cls(file, loaded, levels_from_file(file))

    def group_symbols(self, gop_number: int, last: int | None = None) -> Iterator[list[np.ndarray]]:
        """The integer grids (per level int32 [ey, ex, F]) of a group's frames in order, up to position `last`."""
        gop = self.file.gops[gop_number]
        per_level = self.file.field_config["n_features"] * N_CONTEXTS
        grid = previous = None
        for position, stream in enumerate(self.file.frame_streams(gop_number)):
            if last is not None and position > last:
                return
            tables = gop["frames"][position]["tables"]
            level_tables = [tables[i * per_level : (i + 1) * per_level] for i in range(len(self.levels))]
            try:
                decoder = entropy.SymbolDecoder(stream)
                symbols = self._decode_planes(decoder, level_tables, position > 0, previous)
                decoder.finish()
            except (ValueError, RuntimeError, OverflowError):  # the coder's own text names its internals, not the file
                frame = gop["first_frame"] + position
                raise BitstreamError(f"entropy-coded data of frame {frame} is corrupted") from None
            grid = symbols if grid is None else [g + s for g, s in zip(grid, symbols)]
            previous = symbols if position > 0 else None
            yield grid

    def _decode_planes(
        self, decoder: entropy.SymbolDecoder, level_tables: list[list[int]], residual: bool,
        previous: list[np.ndarray] | None,
    ) -> list[np.ndarray]:
        """One frame's symbols, per level int32 [ey, ex, F] (inverse of `code_frame`): a grid with the row
        contexts, or a residual with the inter contexts (previous: the frame before's residual, or None)."""
        n_features = self.file.field_config["n_features"]
        out, parent = [], None
        for index, (level, tables) in enumerate(zip(self.levels, level_tables)):
            width, height = level.extent
            planes = []
            for feature in range(n_features):
                feature_tables = tables[feature * N_CONTEXTS : (feature + 1) * N_CONTEXTS]
                decode = lambda n, c, t=feature_tables: decoder.decode(n, t[c])  # noqa: E731
                above = None if parent is None else parent[..., feature]
                if residual:
                    before = None if previous is None else previous[index][..., feature]
                    planes.append(context.decode_inter_plane(decode, height, width, above, before))
                else:
                    planes.append(context.decode_plane(decode, height, width, above))
            parent = np.stack(planes, axis=-1)
            out.append(parent)
        return out

    def render(self, grid: list[np.ndarray]) -> np.ndarray:
        """An integer grid (per level int32 [ey, ex, F]) -> uint8 RGB [H, W, 3]."""
        values = [torch.from_numpy(g).float() * quant_step(level["quant_step"]) for g, level in zip(grid, self.file.levels)]
        model = self.loaded.model
        mod = torch.zeros(1, model.config.mod_rank, model.config.n_inputs)
        size = (self.file.image["width"], self.file.image["height"], self.file.field_config["pixels_per_unit"])
        return to_uint8(render_in_bands(model, self.levels, values, mod, size)).numpy()


def decode_video(data: bytes) -> Iterator[np.ndarray]:
    """Every frame, in order, as uint8 RGB [H, W, 3]; one frame and one grid in memory at a time."""
    decoder = _Decoder.open(data)
    for number in range(len(decoder.file.gops)):
        for grid in decoder.group_symbols(number):
            yield decoder.render(grid)


def decode_frame(data: bytes, index: int) -> np.ndarray:
    """Frame `index` (0-based) as uint8 RGB [H, W, 3]: entropy-decodes its group up to it, renders one frame."""
    decoder = _Decoder.open(data)
    count = decoder.file.video["frame_count"]
    if not 0 <= index < count:
        raise InrCodecError(f"frame {index} does not exist: the clip has frames 0..{count - 1}")
    number, position = decoder.file.frame_location(index)
    grid = None
    for grid in decoder.group_symbols(number, last=position):
        pass
    return decoder.render(grid)


def file_fps(file: VideoFile) -> Fraction | None:
    """The frame rate a video file records, None if unknown."""
    return Fraction(file.video["fps_num"], file.video["fps_den"]) if file.video["fps_num"] else None
