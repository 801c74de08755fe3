"""Video v2 encoding of a clip: the group structure (intra frames, a predicted anchor, hierarchical B-frames),
the coding order, and each frame coded on the v2 image model.

Frames are cut into groups of `group`. A group's first frame is intra (a v2 image's latents). The frame after
the group (the next group's intra frame) is coded before the group's other frames, so that every frame between
them is a B-frame predicted from the two nearest frames already coded on either side, bisecting the interval
(temporal layer 1 at its middle, 2 at the quarters, ...). The last group of a clip has no next intra frame: its
last frame is a P-frame predicted from the group's first. Decoding frame k so reads its references' chain:
O(log group) grids. structure="ippp" codes every frame after a group's first from the frame before it
(the low-delay chain, for comparison).
"""

from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np
import torch

from inrcodec import decoder
from inrcodec.bitstream.image_v2 import parse_image
from inrcodec.bitstream.video_v2 import FrameEntry, VideoFile
from inrcodec.encoder.image import as_target, encode_image, predict
from inrcodec.encoder.motion import BLOCK, block_motion, latent_modes
from inrcodec.encoder.predicted import TemporalInputs, encode_predicted
from inrcodec.encoder.temporal import fit_scale_offsets, fit_temporal_mix
from inrcodec.entropy.context_model import padded_grid
from inrcodec.entropy.inter import scale_offset_retable, skipped_vertices, temporal_buckets, temporal_mix_retable
from inrcodec.entropy.motion import (
    BOTH, FUTURE, INTRA, PAST, decode_motion, encode_motion, predict_grids, reference_disagreement,
)  # fmt: skip
from inrcodec.entropy.planes import encode_latents
from inrcodec.field.synthesis import render, to_uint8
from inrcodec.model.config import lambda_rate_code
from inrcodec.model.registry import ModelEntry
from inrcodec.model.shared import load_shared

INTRA, PREDICTED, BIDIRECTIONAL = "I", "P", "B"
KINDS = {INTRA: 0, PREDICTED: 1, BIDIRECTIONAL: 2}  # FRAME.kind in the file
STRUCTURES = ("hierarchical", "ippp")


@dataclass(frozen=True)
class FramePlan:
    """Frame `index` (display order) of kind I, P or B, predicted from `references` (display indices, coded
    before it; the past one first), in temporal layer `layer` (0: intra frames and P anchors)."""

    index: int
    kind: str
    references: tuple[int, ...]
    layer: int


def coding_order(frame_count: int, group: int, structure: str = "hierarchical") -> list[FramePlan]:
    """The frames of a clip in the order they are coded (module docstring)."""
    if structure not in STRUCTURES:
        raise ValueError(f"unknown group structure {structure!r}")
    plans = []
    for start in range(0, frame_count, group):
        end = min(start + group, frame_count)
        if start == 0:
            plans.append(FramePlan(0, INTRA, (), 0))
        if structure == "ippp":
            plans += [FramePlan(t, PREDICTED, (t - 1,), 1) for t in range(start + 1, end)]
            if end < frame_count:
                plans.append(FramePlan(end, INTRA, (), 0))
            continue
        if end < frame_count:
            plans.append(FramePlan(end, INTRA, (), 0))
        else:
            end -= 1
            if end > start:
                plans.append(FramePlan(end, PREDICTED, (start,), 0))
        plans += _bisected(start, end, 1)
    return plans


def _bisected(past: int, future: int, layer: int) -> list[FramePlan]:
    middle = (past + future) // 2
    if middle in (past, future):
        return []
    return [FramePlan(middle, BIDIRECTIONAL, (past, future), layer), *_bisected(past, middle, layer + 1),
            *_bisected(middle, future, layer + 1)]  # fmt: skip


@dataclass(frozen=True)
class CodedFrame:
    """A coded frame: its plan, the rate code it renders at, the rate code of its residual's context model, the
    count of finest levels coded intra (inrcodec.entropy.inter; 0 for an intra frame), the motion stream (b""
    for intra), the latents' stream (an intra frame) or the residual's, the intra levels' stream (b"" if none),
    the integer grids (finest first) as decoded, the decoded frame uint8 [H, W, 3], the residual's scale
    offsets and the intra levels' temporal mix (None: none; inrcodec.encoder.temporal)."""

    plan: FramePlan
    rate_code: int
    residual_code: int
    intra_levels: int
    motion: bytes
    stream: bytes
    intra_stream: bytes
    latents: list[np.ndarray]
    pixels: np.ndarray
    scale_offsets: tuple[int, ...] | None = None
    temporal_mix: tuple[int, ...] | None = None

    @property
    def size(self) -> int:
        """The bytes of its streams, and of its values in the file's TOFS and TMIX sections."""
        context = sum(len(v) for v in (self.scale_offsets, self.temporal_mix) if v is not None)
        return len(self.motion) + len(self.stream) + len(self.intra_stream) + context


@dataclass(frozen=True)
class ClipSettings:
    """lam: the rate weight of layer 0; layer_lambda: its factor per temporal layer (B-frames referenced by
    fewer frames are worth fewer bits); intra_steps, inter_steps: refinement steps; residual_offset: the
    residual's context rate code is the frame's rate code minus this (0..255); intra_bias: a block of a predicted
    frame is coded intra where its analysis latents' L1 times this is below its residual's (None: never);
    intra_levels: the counts of finest levels a predicted frame may code intra (inrcodec.entropy.inter), chosen
    by intra_choice (inrcodec.encoder.predicted.encode_predicted's choose); skip_blocks: a block whose refined
    residual is 0 is skipped (its zeros are not coded); motion_rate: the motion search's weight of a vector's bits
    is this times sqrt(lam) in SAD per bit (8-bit luma, lam per 8-bit squared error: the rule of thumb of
    rate-constrained motion search), 0 for the plain SAD search; half_pel: motion in half pixels (else whole);
    motion: search motion (False: every vector 0, for the ablation);
    scale_offsets: a predicted frame's residual may code scale offsets by temporal bucket (format 2.4) where they
    save bytes; temporal_mix: its intra levels may move their means towards the prediction (format 2.5) where
    that saves bytes; context_in_refinement: which of those two ("scale_offsets", "temporal_mix") the refinement
    (and the choice of intra levels) counts the bits with, fitted to its starting point."""

    lam: float
    intra_steps: int
    inter_steps: int
    group: int = 16
    structure: str = "hierarchical"
    layer_lambda: float = 1.0
    residual_offset: int = 0
    intra_bias: float | None = None  # intra blocks changed nothing measurable (eval/results/video-v2/intra_*)
    intra_levels: tuple[int, ...] = (0, 1)
    intra_choice: str = "refined"
    skip_blocks: bool = True
    motion_rate: float = 2.0  # eval/results/video-v2/motion_rate_*.json
    half_pel: bool = True
    motion: bool = True
    scale_offsets: bool = True
    temporal_mix: bool = True
    context_in_refinement: tuple[str, ...] = ("scale_offsets", "temporal_mix")


def encode_clip(frames: list[np.ndarray], entry: ModelEntry, settings: ClipSettings, progress=None,
                jobs: int = 1) -> list[CodedFrame]:  # fmt: skip
    """uint8 [H, W, 3] frames -> the coded frames in coding order. progress(done, total) after each frame. jobs > 1:
    that many worker processes of one torch thread each code the frames whose references are coded
    (inrcodec.encoder.frame_workers); the file is the one that one job with one thread writes."""
    plans = coding_order(len(frames), settings.group, settings.structure)
    # one rate code for the clip: it sets the latents' gains, and a reference at other gains would mispredict
    rate_code = lambda_rate_code(settings.lam)
    if jobs > 1:
        from inrcodec.encoder.frame_workers import encode_in_workers

        return encode_in_workers(frames, plans, entry, settings, rate_code, jobs, progress)
    shared = load_shared(entry)
    coded: dict[int, CodedFrame] = {}
    for done, plan in enumerate(plans):
        references = [coded[r] for r in plan.references]
        coded[plan.index] = encode_frame(plan, frames[plan.index], [frames[r] for r in plan.references], references,
                                         entry, shared, settings, rate_code)  # fmt: skip
        if progress is not None:
            progress(done + 1, len(plans))
    return [coded[plan.index] for plan in plans]


def encode_frame(plan: FramePlan, pixels: np.ndarray, reference_pixels: list[np.ndarray],
                 references: list[CodedFrame], entry: ModelEntry, shared, settings: ClipSettings,
                 rate_code: int) -> CodedFrame:  # fmt: skip
    """One frame of the clip: its source uint8 [H, W, 3], its references' sources (the motion search's) and
    coded frames (plan.references' order), the model (entry and its loaded shared parts) -> the coded frame."""
    lam = settings.lam * settings.layer_lambda**plan.layer
    if plan.kind == INTRA:
        return _intra(pixels, entry, shared, plan, lam, rate_code, settings.intra_steps)
    rate_weight = settings.motion_rate * math.sqrt(lam * 255**2)
    blocks = (-(-pixels.shape[0] // BLOCK), -(-pixels.shape[1] // BLOCK), 2)
    fields = [block_motion(pixels, source, rate_weight=rate_weight, half_pel=settings.half_pel)
              if settings.motion else np.zeros(blocks, np.int32)
              for source in reference_pixels]  # fmt: skip
    analysis = [torch.round(a).reshape(a.shape[-2:]).numpy().astype(np.int64)
                for a in predict(entry, as_target(pixels)[0], rate_code)]  # fmt: skip
    one_way = [predict_grids([r.latents], [f], None, BLOCK) for r, f in zip(references, fields)]
    candidates = {PAST: one_way[0]}
    if plan.kind == BIDIRECTIONAL:
        both = [(a + b + 1) >> 1 for a, b in zip(*one_way)]
        candidates.update({BOTH: both, FUTURE: one_way[1]})
    modes = latent_modes(analysis, candidates, fields[0].shape[:2], BLOCK, settings.intra_bias)
    prediction = predict_grids([r.latents for r in references], fields, modes, BLOCK)
    residual_code = max(0, rate_code - settings.residual_offset)
    temporal = None
    offsets_in = settings.scale_offsets and "scale_offsets" in settings.context_in_refinement
    mix_in = settings.temporal_mix and "temporal_mix" in settings.context_in_refinement
    if offsets_in or mix_in:
        temporal = TemporalInputs(reference_disagreement([r.latents for r in references], fields, BLOCK),
                                  modes, offsets_in, mix_in)  # fmt: skip
    result = encode_predicted(pixels, prediction, entry, rate_code, lam, settings.inter_steps,
                              residual_code=residual_code, intra_levels=settings.intra_levels,
                              choose=settings.intra_choice,
                              skippable=(modes != INTRA) if settings.skip_blocks else None,
                              temporal=temporal)  # fmt: skip
    motion = encode_motion(*fields, modes=modes, skip=result.skip)
    # the fields as the decoder has them: a block that does not read a field has its predicted vector there
    fields = decode_motion(motion, modes.shape, len(fields))[0]
    stream, offsets = result.residual_stream, None
    if settings.scale_offsets:
        stream, offsets = _with_scale_offsets(shared, result, [r.latents for r in references], fields,
                                              modes, prediction, residual_code)  # fmt: skip
    intra_stream, mix = result.intra_stream, None
    if settings.temporal_mix and result.intra_levels:
        intra_stream, mix = _with_temporal_mix(shared, result, [r.latents for r in references], fields,
                                               prediction, rate_code)  # fmt: skip
    return CodedFrame(plan, rate_code, residual_code, result.intra_levels, motion, stream, intra_stream,
                      result.latents, _rendered(shared, result.latents, rate_code, pixels.shape), offsets,
                      mix)  # fmt: skip


def _intra(pixels, entry, shared, plan, lam, rate_code, steps) -> CodedFrame:
    # no modulation: a clip's frames all render with the model's synthesis as it is
    file = parse_image(encode_image(pixels, entry, lam=lam, rate_code=rate_code, steps=steps, modulate=False).data)
    latents = decoder.decode_file_latents(file, shared)
    return CodedFrame(plan, rate_code, rate_code, 0, b"", file.payload, b"", latents,
                      _rendered(shared, latents, rate_code, pixels.shape))  # fmt: skip


def _with_scale_offsets(shared, result, references, fields, modes, prediction, residual_code):
    """(the residual stream, None) as refined, or (the stream re-coded with the scale offsets fitted to its
    residuals, the offsets) where that is smaller by more than the offsets' bytes (SPEC 10.5). The latents are
    the same either way: the offsets change the tables, not the means that values are clamped to."""
    first = result.intra_levels
    residuals = [q - p for q, p in zip(result.latents[first:], prediction[first:])]
    skipped = skipped_vertices([r.shape for r in residuals], first, result.skip)
    buckets = temporal_buckets(reference_disagreement(references, fields, BLOCK, first), modes, first)
    offsets = fit_scale_offsets(residuals, shared.contexts, residual_code, first, skipped, buckets)
    if not offsets.any():
        return result.residual_stream, None
    stream, coded = encode_latents(residuals, shared.contexts, residual_code, first, None, skipped,
                                   scale_offset_retable(buckets, offsets))  # fmt: skip
    if len(stream) + offsets.size >= len(result.residual_stream):
        return result.residual_stream, None
    if not all(np.array_equal(a, b) for a, b in zip(coded, residuals)):
        raise AssertionError("scale offsets changed the coded residuals")  # the tables, never the means, move
    return stream, tuple(int(o) for o in offsets)


def _with_temporal_mix(shared, result, references, fields, prediction, rate_code):
    """(the intra levels' stream, None) as refined, or (the stream re-coded with the temporal mix fitted to them,
    the mix) where that is smaller by more than the mix's bytes (SPEC 10.6). A mixed mean could clamp a latent
    the plain one did not (further than 255 from it): then the mix is not used, so the latents never change."""
    first = result.intra_levels
    disagreement = reference_disagreement(references, fields, BLOCK, 0)[:first]
    coarser = padded_grid(result.latents[first], 1)
    intra = result.latents[:first]
    mix = fit_temporal_mix(intra, prediction[:first], disagreement, shared.contexts, rate_code, coarser)
    if not any(mix):
        return result.intra_stream, None
    stream, coded = encode_latents(intra, shared.contexts, rate_code, 0, coarser, None,
                                   temporal_mix_retable(prediction[:first], disagreement, mix))  # fmt: skip
    if len(stream) + len(mix) >= len(result.intra_stream) or not all(map(np.array_equal, coded, intra)):
        return result.intra_stream, None
    return stream, mix


def _rendered(shared, latents: list[np.ndarray], rate_code: int, shape: tuple[int, ...]) -> np.ndarray:
    return render(latents, shared.gains(rate_code), shared.synthesis, shape[0], shape[1], finish=to_uint8)


def clip_file(coded: list[CodedFrame], entry: ModelEntry, fps: tuple[int, int], group: int) -> bytes:
    """Coded frames (in coding order) -> the bytes of a video file (format 2.5 where a frame has a temporal mix,
    else 2.4 where one has scale offsets, else 2.3)."""
    height, width = coded[0].pixels.shape[:2]
    frames = tuple(FrameEntry(f.plan.index, KINDS[f.plan.kind], f.plan.references,
                              0 if f.plan.kind == INTRA else f.residual_code, f.intra_levels,
                              (len(f.motion), len(f.stream), len(f.intra_stream)), f.scale_offsets,
                              f.temporal_mix)
                   for f in coded)  # fmt: skip
    payload = b"".join(f.motion + f.stream + f.intra_stream for f in coded)
    return VideoFile(width, height, coded[0].rate_code, len(coded[0].latents), entry.id, bytes.fromhex(entry.sha256),
                     fps, group, frames, payload).to_bytes()  # fmt: skip
