"""The v2 video decoder (formats 2.3 - 2.5, SPEC.md section 10): any frame alone, or the whole clip.

A frame's integer latents come from its own streams and its references' latents (an intra frame's from its
own alone), so decoding frame k entropy-decodes its reference chain, O(log group) frames, and renders one.
Imports nothing of the encoder and never torch.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from inrcodec.bitstream import image_v2, video_v2
from inrcodec.bitstream.container import read_container
from inrcodec.bitstream.image_v2 import DEFAULT_MAX_PIXELS
from inrcodec.bitstream.video_v2 import KIND_INTRA, KIND_LETTERS, VideoFile, parse_video
from inrcodec.decoder import file_version, model_for
from inrcodec.entropy.inter import decode_inter, scale_offset_retable, temporal_buckets, temporal_mix_retable
from inrcodec.entropy.motion import (
    BLOCK, decode_motion, disagreement_from_warps, prediction_from_warps, reference_warps,
)  # fmt: skip
from inrcodec.entropy.planes import Traversals, decode_latents
from inrcodec.errors import BitstreamError, InrCodecError
from inrcodec.field.synthesis import render, to_uint8
from inrcodec.model.config import level_shape


def is_video_v2(data: bytes) -> bool:
    """Whether .inr bytes hold a format 2.3 - 2.5 video; BitstreamError if they are not a well-formed container."""
    major, minor = file_version(data)
    if (major, minor) < video_v2.FORMAT:
        return False
    return video_v2.TAG_CLIP in read_container(data, image_v2.KNOWN_TAGS | video_v2.KNOWN_TAGS)[1]


class VideoDecoder:
    """A parsed format 2.3 - 2.5 file and its model. latents(k) and frame(k) decode display frame k with its reference
    chain; frames() decodes every frame once, in coding order, keeping a frame's latents only while a frame yet
    to decode refers to it."""

    def __init__(self, data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> None:
        self.file: VideoFile = parse_video(data, max_pixels)
        self.shared = model_for(self.file)
        self.shapes = [level_shape(self.file.height, self.file.width, level) for level in range(self.file.n_levels)]
        self.blocks = (-(-self.file.height // BLOCK), -(-self.file.width // BLOCK))
        self.position = {frame.index: position for position, frame in enumerate(self.file.frames)}
        self.traversals = Traversals()  # every frame has the same grid shapes: their chunks are worked out once

    @property
    def frame_count(self) -> int:
        return len(self.file.frames)

    def chain(self, index: int) -> list[int]:
        """The display indices whose latents frame `index` needs, itself included, in coding order."""
        needed, todo = set(), [index]
        while todo:
            frame = self.file.frames[self.position[todo.pop()]]
            if frame.index not in needed:
                needed.add(frame.index)
                todo.extend(frame.references)
        return sorted(needed, key=self.position.get)

    def _decode(self, position: int, decoded: dict[int, list[np.ndarray]]) -> list[np.ndarray]:
        frame = self.file.frames[position]
        motion, latents, intra = self.file.streams(position)
        nets, rate_code = self.shared.contexts, self.file.rate_code
        try:
            if frame.kind == KIND_INTRA:
                return decode_latents(latents, self.shapes, nets, rate_code, traversals=self.traversals)
            fields, modes, skip = decode_motion(motion, self.blocks, count=len(frame.references))
            warps = reference_warps([decoded[r] for r in frame.references], fields, BLOCK)
            prediction = prediction_from_warps(warps, modes, BLOCK)
            first, residual_retable, intra_retable = frame.intra_levels, None, None
            if frame.scale_offsets is not None or frame.temporal_mix is not None:
                disagreement = disagreement_from_warps(warps)
                residual_retable = scale_offset_retable(temporal_buckets(disagreement[first:], modes, first),
                                                        frame.scale_offsets)  # fmt: skip
                intra_retable = temporal_mix_retable(prediction[:first], disagreement[:first], frame.temporal_mix)
            return decode_inter(latents, intra, prediction, nets, rate_code, frame.residual_code, first, skip,
                                residual_retable, intra_retable, self.traversals)  # fmt: skip
        except ValueError as exc:
            raise BitstreamError(f"frame {frame.index} ({KIND_LETTERS[frame.kind]}): {exc}") from None

    def latents(self, index: int) -> list[np.ndarray]:
        """Display frame `index`'s integer grids (finest first); InrCodecError if the clip has no such frame."""
        if not 0 <= index < self.frame_count:
            raise InrCodecError(f"frame {index} is not in the clip (frames 0..{self.frame_count - 1})")
        decoded: dict[int, list[np.ndarray]] = {}
        for needed in self.chain(index):
            decoded[needed] = self._decode(self.position[needed], decoded)
        return decoded[index]

    def render(self, latents: list[np.ndarray]) -> np.ndarray:
        """Integer grids -> the frame, uint8 [H, W, 3]."""
        file = self.file
        return render(latents, self.shared.gains(file.rate_code), self.shared.synthesis, file.height, file.width,
                      finish=to_uint8)  # fmt: skip

    def frame(self, index: int) -> np.ndarray:
        """Display frame `index`, uint8 [H, W, 3]."""
        return self.render(self.latents(index))

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        """(display index, uint8 [H, W, 3]) of every frame, in coding order."""
        readers = {frame.index: 0 for frame in self.file.frames}
        for frame in self.file.frames:
            for reference in frame.references:
                readers[reference] += 1
        decoded: dict[int, list[np.ndarray]] = {}
        for position, frame in enumerate(self.file.frames):
            latents = self._decode(position, decoded)
            for reference in frame.references:
                readers[reference] -= 1
                if not readers[reference]:
                    del decoded[reference]
            if readers[frame.index]:
                decoded[frame.index] = latents
            yield frame.index, self.render(latents)

    def frames_in_order(self) -> Iterator[np.ndarray]:
        """Every frame uint8 [H, W, 3] in display order (a frame decoded early waits, about a group at most)."""
        waiting, next_index = {}, 0
        for index, pixels in self.frames():
            waiting[index] = pixels
            while next_index in waiting:
                yield waiting.pop(next_index)
                next_index += 1


def describe_video(data: bytes) -> dict:
    """A JSON-ready description of a format 2.3 - 2.5 file's header and frame index, without decoding it."""
    from inrcodec.model.config import rate_code_lambda

    file = parse_video(data, max_pixels=1 << 62)
    major, minor = file_version(data)
    frames = [{"index": f.index, "kind": KIND_LETTERS[f.kind], "references": list(f.references),
               "intra_levels": f.intra_levels, "residual_code": f.residual_code, "bytes": sum(f.lengths),
               "motion_bytes": f.lengths[0],
               "scale_offsets": None if f.scale_offsets is None else list(f.scale_offsets),
               "temporal_mix": None if f.temporal_mix is None else list(f.temporal_mix)}
              for f in file.frames]  # fmt: skip
    return {
        "kind": "video", "format_version": f"{major}.{minor}", "file_bytes": len(data),
        "bpp": len(data) * 8 / (file.width * file.height * len(file.frames)),
        "image": {"width": file.width, "height": file.height, "channels": 3, "bit_depth": 8,
                  "rate_code": file.rate_code, "n_levels": file.n_levels},
        "lambda": rate_code_lambda(file.rate_code), "frame_count": len(file.frames),
        "fps": None if file.fps[0] == 0 else list(file.fps), "group": file.group,
        "model_id": file.model_id, "model_sha256": file.model_sha256.hex(), "payload_bytes": len(file.payload),
        "frames": frames,
    }  # fmt: skip
