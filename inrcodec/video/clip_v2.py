"""The v2 video pipeline: a clip (anything media.video.open_video reads) -> a format 2.3 - 2.5 file, and its stats
measured on a decode of the bytes written (inrcodec.video_decoder).

The frames are read into memory (a group's frames and the next group's first are what the hierarchical
structure of inrcodec.encoder.clip needs at once; reading them group by group is still to do), coded with the
v2 model, and written with every frame's streams and the frame index.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from inrcodec.bitstream.video_v2 import MAX_FRAMES
from inrcodec.decoder import file_version
from inrcodec.encoder.clip import ClipSettings, clip_file, encode_clip
from inrcodec.encoder.result import EncodeResult
from inrcodec.errors import InrCodecError
from inrcodec.media.video import open_video
from inrcodec.metrics import psnr
from inrcodec.model.registry import resolve
from inrcodec.presets import (
    CLIP_GROUP, CLIP_LAYER_LAMBDA, CLIP_PRESET_STEPS, CLIP_RESIDUAL_OFFSET, DEFAULT_MODEL, DEFAULT_PRESET,
    DEFAULT_QUALITY, QUALITY_LAMBDAS,
)  # fmt: skip
from inrcodec.video_decoder import VideoDecoder

FrameProgress = Callable[[int, int], None]


def encode_clip_v2(source, quality: int = DEFAULT_QUALITY, preset: str = DEFAULT_PRESET, model: str = DEFAULT_MODEL,
                   group: int = CLIP_GROUP, progress: FrameProgress | None = None,
                   inter_steps: int | None = None, jobs: int = 1) -> EncodeResult:  # fmt: skip
    """Encode the clip at `source` as format 2.3 - 2.5. progress(frames coded, frames) after each frame (in coding
    order); inter_steps: the predicted frames' refinement steps (None: the preset's); jobs: worker processes that
    code frames at once (inrcodec.encoder.frame_workers; the file is one thread's). stats: bytes, bpp (file bytes
    x 8 / (width x height x frames)), psnr_rgb (mean over the frames of the decoded file), encode_seconds
    (reading the source to the file's bytes, not the check decode), frames, ... InrCodecError on a bad quality,
    preset, group, model or jobs."""
    if quality not in QUALITY_LAMBDAS:
        raise InrCodecError(f"quality must be one of 1..8, got {quality}")
    if preset not in CLIP_PRESET_STEPS:
        raise InrCodecError(f"unknown preset {preset!r} (choose from {', '.join(CLIP_PRESET_STEPS)})")
    if not 1 <= group <= 1024:
        raise InrCodecError(f"the group must be between 1 and 1024 frames, got {group}")
    if jobs < 1:
        raise InrCodecError(f"jobs must be at least 1, got {jobs}")
    entry = resolve(None if model in (None, DEFAULT_MODEL) else model)
    if entry.config.get("codec") != 2:
        raise InrCodecError(f"model '{entry.id}' is not a v2 model (video v2 codes frames with the image model)")
    start = time.perf_counter()
    reader = open_video(source)
    frames = []
    for rgb in reader.frames():
        if len(frames) >= MAX_FRAMES:
            raise InrCodecError(f"{source} has more than {MAX_FRAMES} frames")
        frames.append(rgb)
    if not frames:
        raise InrCodecError(f"{source} has no frames")
    intra_steps, preset_inter_steps = CLIP_PRESET_STEPS[preset]
    inter_steps = preset_inter_steps if inter_steps is None else inter_steps
    lam = QUALITY_LAMBDAS[quality]
    settings = ClipSettings(lam, intra_steps, inter_steps, group=group, layer_lambda=CLIP_LAYER_LAMBDA,
                            residual_offset=CLIP_RESIDUAL_OFFSET)  # fmt: skip
    coded = encode_clip(frames, entry, settings, progress, jobs)
    fps = reader.info.fps
    data = clip_file(coded, entry, (0, 1) if fps is None else (fps.numerator, fps.denominator), group)
    encode_seconds = time.perf_counter() - start
    decoded = dict(VideoDecoder(data).frames())
    height, width = frames[0].shape[:2]
    return EncodeResult(data=data, stats={
        "bytes": len(data), "bpp": len(data) * 8 / (width * height * len(frames)),
        "psnr_rgb": float(np.mean([psnr(frame, decoded[index]) for index, frame in enumerate(frames)])),
        "encode_seconds": encode_seconds, "frames": len(frames), "width": width, "height": height,
        "fps": None if fps is None else float(fps), "gop": group, "steps": [intra_steps, inter_steps],
        "quality": quality, "preset": preset, "lambda": lam, "model": entry.id, "jobs": jobs,
        "format": "{}.{}".format(*file_version(data)),
        "kinds": "".join(f.plan.kind for f in sorted(coded, key=lambda f: f.plan.index)),
    })  # fmt: skip
