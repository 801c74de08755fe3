"""Rate-distortion of video codecs over one clip, behind `inrcodec rd-curve --video PATH`.

Codecs: inrcodec's video codec (video.clip_v2.encode_clip_v2 / video_decoder), inrcodec's image codec frame by frame
(api.encode_image / decode_image), and x264 / x265 live through PyAV, each at several quality points. Every rate
comes from the encoded bytes and every distortion from decoded 8-bit frames compared with source frame i,
streamed: the source is opened afresh (open_video) for each pass and one frame is held at a time. Colour for
x264/x265 and PSNR-YUV: media/yuv.py.

Per codec the output folder gets <name>.csv (one row per quality, appended as measured: the resume store) and
<name>.json (CompressAI's schema with a meta block), then bd_rates.md/.json and rd.png/.svg (rdvideoresults.py).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import platform
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from inrcodec.errors import InrCodecError
from inrcodec.metrics import mse, psnr
from inrcodec.rd.video_report import CODEC_NAMES, VideoStore
from inrcodec.media.video import open_video
from inrcodec.media.yuv import DESCRIPTION as COLOUR, Yuv420, pack_yuv420p, psnr_yuv, rgb_to_yuv420, unpack_yuv420p, yuv420_to_rgb

DEFAULT_QUALITIES = (1, 3, 5, 7)  # inrcodec's, for both of its codecs
CRFS = (42, 38, 34, 30, 26, 22, 18)  # x264 and x265: ascending rate
LIBAV_PRESET = "medium"
LIBAV_THREADS = 1  # encoder and decoder threads: fixed, so that the bytes are reproducible
DEFAULT_FPS = 25  # x264/x265's time base when the clip records no frame rate (a frame folder, Vid4)


@dataclass(frozen=True)
class Clip:
    """A source video as open_video reads it; frames is counted by decoding when the header does not say."""

    path: Path
    name: str
    width: int
    height: int
    frames: int
    fps: Fraction | None

    def read(self) -> Iterator[np.ndarray]:
        """The source frames from the first, uint8 [H, W, 3] RGB, one at a time (a fresh open_video)."""
        return open_video(self.path).frames()

    def identity(self) -> dict:
        """What a resumed run must share with the earlier one (the path may differ between machines)."""
        return {"name": self.name, "width": self.width, "height": self.height, "frames": self.frames}


def open_clip(path: str | os.PathLike) -> Clip:
    """Open a clip (frame folder, .y4m, .mp4/.mkv/...) and count its frames; InrCodecError if it has none."""
    path = Path(path)
    reader = open_video(path)
    frames = reader.info.frame_count
    if frames is None:
        frames = sum(1 for _ in reader.frames())
    if frames == 0:
        raise InrCodecError(f"{str(path)!r} has no frames")
    name = path.stem if path.is_file() else path.resolve().name
    return Clip(path, name, reader.info.width, reader.info.height, frames, reader.info.fps)


class Timed:
    """An iterator whose .seconds sums the wall time spent producing its items (time.perf_counter)."""

    def __init__(self, items: Iterable):
        self._items, self.seconds = iter(items), 0.0

    def __iter__(self):
        return self

    def __next__(self):
        start = time.perf_counter()
        try:
            return next(self._items)
        finally:
            self.seconds += time.perf_counter() - start


class FrameScores:
    """Per-frame PSNR-RGB, MSE and PSNR-YUV of decoded frames against the source, averaged into a row."""

    def __init__(self, keep: Iterable[int] = ()):
        self.rgb, self.mse, self.yuv = [], [], []
        self.keep, self.kept = set(keep), {}

    def add(self, source: np.ndarray, decoded: np.ndarray, decoded_yuv: Yuv420 | None, label: str) -> None:
        index = len(self.rgb)
        if decoded.shape != source.shape or decoded.dtype != np.uint8:
            raise InrCodecError(f"{label} decoded frame {index} as {decoded.dtype} {list(decoded.shape)}, "
                                f"not uint8 {list(source.shape)}")
        self.rgb.append(psnr(source, decoded))
        self.mse.append(mse(source, decoded))
        self.yuv.append(psnr_yuv(rgb_to_yuv420(source), rgb_to_yuv420(decoded) if decoded_yuv is None else decoded_yuv))
        if index in self.keep:
            self.kept[index] = decoded

    def row(self, clip: Clip, quality, data_bytes: int, sha256: str, encoding_time: float,
            decoding_time: float) -> dict:
        yuv = np.mean(np.array(self.yuv), axis=0)
        return {"quality": quality, "frames": clip.frames, "width": clip.width, "height": clip.height,
                "bytes": data_bytes, "bpp": data_bytes * 8 / (clip.width * clip.height * clip.frames),
                "psnr_rgb": float(np.mean(self.rgb)), "mse_rgb": float(np.mean(self.mse)),
                "psnr_yuv": float(yuv[0]), "psnr_y": float(yuv[1]), "psnr_u": float(yuv[2]), "psnr_v": float(yuv[3]),
                "encoding_time": encoding_time, "decoding_time": decoding_time,
                "encoding_time_per_frame": encoding_time / clip.frames,
                "decoding_time_per_frame": decoding_time / clip.frames, "sha256": sha256}


def score(clip: Clip, decoded: Iterator[tuple[np.ndarray, Yuv420 | None]], label: str,
          keep: Iterable[int] = ()) -> FrameScores:
    """Compare decoded frame i (RGB, and YUV where the codec gives it) with source frame i, for every frame."""
    scores = FrameScores(keep)
    for index, source in enumerate(clip.read()):
        item = next(decoded, None)
        if item is None:
            raise InrCodecError(f"{label} decoded {index} frames, the clip has {clip.frames}")
        scores.add(source, *item, label)
    if len(scores.rgb) != clip.frames or next(decoded, None) is not None:
        raise InrCodecError(f"{label} decoded a different number of frames than the clip's {clip.frames}")
    return scores


@dataclass(frozen=True)
class VideoCodec:
    """A codec under test: name (file stem of its results), label, qualities, and what its numbers mean."""

    name: str
    label: str
    qualities: tuple
    notes: str = ""

    def check(self, clip: Clip) -> None:
        """InrCodecError, before anything is measured, if this codec cannot code the clip."""

    def threads(self, torch_threads: int) -> int:
        return torch_threads

    def rate_order(self, quality) -> float:
        """Sort key of a quality setting: ascending means a higher rate."""
        return float(quality)

    def config(self) -> dict:
        raise NotImplementedError

    def measure(self, clip: Clip, quality) -> dict:
        """Encode the clip at one quality, decode it, measure -> a row with the CSV_FIELDS."""
        raise NotImplementedError


@dataclass(frozen=True)
class LibavCodec(VideoCodec):
    """x264 / x265 through PyAV on yuv420p converted by media/yuv.py; CRF sweep; rate = elementary-stream bytes."""

    encoder: str = ""
    decoder: str = ""
    options: tuple = ()  # (key, value) pairs for the encoder, besides crf and preset

    def check(self, clip):
        import av

        try:
            av.codec.Codec(self.encoder, "w")
        except Exception:  # UnknownCodecError, or ValueError in older PyAV
            raise InrCodecError(
                f"this FFmpeg has no {self.encoder} encoder; leave {self.name} out of --codecs") from None
        if clip.width % 2 or clip.height % 2:
            raise InrCodecError(f"{self.name} codes 4:2:0, which needs an even width and height; {clip.name} is "
                                f"{clip.width}x{clip.height} (leave {self.name} out of --codecs)")

    def threads(self, torch_threads):
        return LIBAV_THREADS

    def rate_order(self, quality):
        return -float(quality)  # a lower CRF is a higher rate

    def config(self):
        import av

        return {"codec": self.name, "encoder": self.encoder, "decoder": self.decoder, "av": av.__version__,
                "ffmpeg": getattr(av, "ffmpeg_version_info", None), "pix_fmt": "yuv420p", "preset": LIBAV_PRESET,
                "quality": "crf", "threads": LIBAV_THREADS, "options": dict(self.options),
                "time_base": f"1/fps (1/{DEFAULT_FPS} when the clip records no rate)"}

    def measure(self, clip, quality):
        import av

        context = av.CodecContext.create(self.encoder, "w")
        context.width, context.height, context.pix_fmt = clip.width, clip.height, "yuv420p"
        rate = clip.fps or Fraction(DEFAULT_FPS)
        context.time_base, context.framerate = 1 / rate, rate
        context.thread_count = LIBAV_THREADS
        context.options = {"crf": str(quality), "preset": LIBAV_PRESET, **dict(self.options)}
        packets, encoding_time = [], 0.0
        for index, rgb in enumerate(itertools.chain(clip.read(), [None])):  # None: flush the delayed frames
            planes = None if rgb is None else pack_yuv420p(rgb_to_yuv420(rgb))
            start = time.perf_counter()
            frame = None if planes is None else av.VideoFrame.from_ndarray(planes, format="yuv420p")
            if frame is not None:
                frame.pts = index
            packets += [bytes(packet) for packet in context.encode(frame)]
            encoding_time += time.perf_counter() - start
        decoded = Timed(self._decode(packets, clip))
        scores = score(clip, ((yuv420_to_rgb(yuv), yuv) for yuv in decoded), self.name)
        return scores.row(clip, quality, sum(map(len, packets)), hashlib.sha256(b"".join(packets)).hexdigest(),
                          encoding_time, decoded.seconds)

    def _decode(self, packets: list[bytes], clip: Clip) -> Iterator[Yuv420]:
        import av

        context = av.CodecContext.create(self.decoder, "r")
        context.thread_count = LIBAV_THREADS
        for data in [*packets, None]:
            for frame in context.decode(None if data is None else av.Packet(data)):
                yield unpack_yuv420p(frame.to_ndarray(format="yuv420p"), clip.height, clip.width)


@dataclass(frozen=True)
class InrCodec(VideoCodec):
    """inrcodec: the video codec (video=True) or the image codec on each frame."""

    preset: str = "medium"
    model: str | None = "default"
    video: bool = True

    def check(self, clip):
        if self.video and self.model is None:
            raise InrCodecError("inrcodec's video codec needs a model: an installed v2 model id, or 'default'")

    def config(self):
        if not self.video:
            from inrcodec.rd.codecs import InrCodec as ImageCodec

            config = ImageCodec(preset=self.preset, model=self.model, name=self.name).config()
            return {**config, "api": "api.encode_image per frame"}
        import torch

        import inrcodec

        from inrcodec.model.registry import resolve
        from inrcodec.presets import (
            CLIP_GROUP, CLIP_LAYER_LAMBDA, CLIP_PRESET_STEPS, CLIP_RESIDUAL_OFFSET, DEFAULT_MODEL,
        )  # fmt: skip

        from inrcodec.encoder.clip import ClipSettings

        entry = resolve(None if self.model in (None, DEFAULT_MODEL) else self.model)
        settings = ClipSettings(0.0, 0, 0)  # the encoder's defaults
        return {"codec": self.name, "inrcodec": inrcodec.__version__, "torch": torch.__version__, "format": "2.3",
                "preset": self.preset, "steps": list(CLIP_PRESET_STEPS[self.preset]),
                "model": {"id": entry.id, "sha256": entry.sha256}, "api": "video.clip_v2.encode_clip_v2",
                "group": CLIP_GROUP, "residual_offset": CLIP_RESIDUAL_OFFSET, "layer_lambda": CLIP_LAYER_LAMBDA,
                "intra_levels": list(settings.intra_levels), "intra_choice": settings.intra_choice,
                "skip_blocks": "rate-distortion" if settings.skip_blocks else "none",
                "motion": {"rate_weight": settings.motion_rate, "half_pel": settings.half_pel},
                "scale_offsets": settings.scale_offsets}

    def measure(self, clip, quality):
        return self._measure_video(clip, int(quality)) if self.video else self._measure_frames(clip, int(quality))

    def _measure_video(self, clip: Clip, quality: int) -> dict:
        from inrcodec.video.clip_v2 import encode_clip_v2
        from inrcodec.video_decoder import VideoDecoder

        start = time.perf_counter()
        result = encode_clip_v2(clip.path, quality=quality, preset=self.preset, model=self.model)
        data, encoding_time = result.data, _encode_seconds(result, time.perf_counter() - start)
        start = time.perf_counter()
        decoder = VideoDecoder(data)
        frames = dict(decoder.frames())
        decoding_time = time.perf_counter() - start
        middle, last = clip.frames // 2, clip.frames - 1
        scores = score(clip, ((frames[index], None) for index in range(len(frames))), self.name, keep=(middle, last))
        row = scores.row(clip, quality, len(data), hashlib.sha256(data).hexdigest(), encoding_time, decoding_time)
        matches = True
        for key, index in (("middle", middle), ("last", last)):  # random access: one frame decoded on its own
            start = time.perf_counter()
            frame = VideoDecoder(data).frame(index)
            row[f"frame_decoding_time_{key}"] = time.perf_counter() - start
            matches = matches and np.array_equal(frame, scores.kept[index])
        row["frame_decode_matches"] = matches
        return row

    def _measure_frames(self, clip: Clip, quality: int) -> dict:
        from inrcodec.api import decode_image, encode_image

        digest, sizes, times = hashlib.sha256(), [], [0.0, 0.0]

        def decoded() -> Iterator[tuple[np.ndarray, None]]:
            for rgb in clip.read():
                start = time.perf_counter()
                result = encode_image(rgb, quality=quality, preset=self.preset, model=self.model)
                encoded, data = time.perf_counter(), result.data
                frame = decode_image(data)
                times[0] += _encode_seconds(result, encoded - start)
                times[1] += time.perf_counter() - encoded
                digest.update(data)
                sizes.append(len(data))
                yield frame, None

        scores = score(clip, decoded(), self.name)
        return scores.row(clip, quality, sum(sizes), digest.hexdigest(), times[0], times[1])


def _encode_seconds(result, call_seconds: float) -> float:
    """The encoder's own wall time (stats encode_seconds: without the check decode it does to report PSNR),
    else the call's."""
    seconds = getattr(result, "stats", {}).get("encode_seconds")
    return float(seconds) if seconds is not None else call_seconds


def video_codecs(names: list[str], qualities: Iterable[int], preset: str, image_preset: str,
                 model: str | None) -> list[VideoCodec]:
    """The codecs of a run by name (CODEC_NAMES); InrCodecError for an unknown one."""
    qualities, chosen = tuple(qualities), []
    for name in names:
        if name == "inrcodec":
            chosen.append(InrCodec(name, f"inrcodec video v2 ({preset})", qualities, "bytes = the .inr file "
                                   "(format 2.3); encoding_time = encode_clip_v2's stats encode_seconds (reading "
                                   "the source to the file's bytes, not its check decode); decoding_time = parsing "
                                   "and decoding every frame (VideoDecoder.frames); frame_decoding_time = one frame "
                                   "alone from its reference chain, parsing included", preset, model, video=True))
        elif name == "inrcodec-image":
            chosen.append(InrCodec(name, f"inrcodec image per frame ({image_preset})", qualities,
                                   "bytes = all frame files; encoding_time = the sum of encode_image's stats "
                                   "encode_seconds (not its check decode); decoding_time = the decode_image calls",
                                   image_preset, model, video=False))
        elif name == "x264-gop16":
            from inrcodec.presets import CLIP_GROUP

            chosen.append(LibavCodec(
                name, f"H.264 (x264 {LIBAV_PRESET}, CRF, a keyframe every {CLIP_GROUP} frames)", CRFS,
                f"x264 as the x264 row, with keyint=min-keyint={CLIP_GROUP} and no scene cuts: the random access of "
                "inrcodec's groups; bytes = the encoded packets (elementary stream, parameter sets and x264's "
                "~0.7 KB settings SEI included, no container); encoding_time covers the encoder calls only; "
                "decoding_time FFmpeg's decoder to yuv420p planes", "libx264", "h264",
                (("x264-params", f"keyint={CLIP_GROUP}:min-keyint={CLIP_GROUP}:scenecut=0"),)))
        elif name in ("x264", "x265"):
            # x265: quiet, one worker thread, and no informational SEI (its ~2.3 KB of version and settings text).
            options = (("x265-params", "log-level=error:pools=1:frame-threads=1:info=0"),) if name == "x265" else ()
            info = ("x264 writes a ~0.7 KB SEI with its version and settings in the first packet, counted (x264 "
                    "has no switch for it); " if name == "x264" else "")
            chosen.append(LibavCodec(
                name, f"{'H.264' if name == 'x264' else 'HEVC'} ({name} {LIBAV_PRESET}, CRF)", CRFS,
                "bytes = the encoded packets (elementary stream, parameter sets included, no container); " + info +
                "encoding_time covers the encoder calls only (not the RGB->YUV conversion); decoding_time covers "
                "FFmpeg's decoder to yuv420p planes (not the YUV->RGB conversion)",
                "lib" + name, "h264" if name == "x264" else "hevc", options))
        else:
            raise InrCodecError(f"unknown video codec {name!r}; choose from {', '.join(CODEC_NAMES)}")
    return chosen


def run_meta(clip: Clip, codec: VideoCodec, threads: int, command: str) -> dict:
    import inrcodec

    from inrcodec.hardware import results_machine

    return {
        "kind": "video", "label": codec.label, "config": {**codec.config(), "threads": threads},
        "clip": clip.identity(), "clip_path": str(clip.path), "width": clip.width, "height": clip.height,
        "frames": clip.frames, "fps": None if clip.fps is None else float(clip.fps),
        "fps_note": "as given by the reader" if clip.fps else "unknown (the source records none): null",
        "colour": COLOUR, "notes": codec.notes, "inrcodec": inrcodec.__version__, "command": command,
        **results_machine(), "threads": threads,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "python": platform.python_version(),
    }


def describe(codec: VideoCodec, clip: Clip) -> str:
    return (f"{codec.label} on {clip.name} ({clip.frames} frames, {clip.width}x{clip.height}): bpp = bytes x 8 / "
            "(width x height x frames); PSNR-RGB = mean over frames of per-frame PSNR on decoded 8-bit RGB; "
            f"PSNR-YUV = mean over frames of (6 Y + U + V) / 8 ({COLOUR}); encoding_time and decoding_time are "
            f"wall seconds for the whole clip, *_per_frame divided by the frames ({codec.notes}).")


def run(clip: Clip, codecs: list[VideoCodec], out: Path, threads: int | None = None, fresh: bool = False,
        command: str = "", on_start: Callable[[dict[str, tuple[int, int]]], None] | None = None,
        on_row: Callable[[str, dict], None] | None = None) -> dict[str, dict]:
    """Measure every codec on the clip at its qualities; returns name -> summary (results JSON).

    Rows already in `out` for the same codec config and clip are kept (resume) unless fresh. x264/x265 run first
    (they are fast). threads: torch threads for inrcodec (default: all CPUs). on_start gets name -> (done, total);
    on_row(name, row) follows each measurement.
    """
    for codec in codecs:
        codec.check(clip)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InrCodecError(f"cannot create {out}: {exc.strerror or exc}") from None
    threads = threads or os.cpu_count() or 1
    if any(isinstance(codec, InrCodec) for codec in codecs):
        import torch

        torch.set_num_threads(threads)
    codecs = sorted(codecs, key=lambda codec: not isinstance(codec, LibavCodec))
    stores = {codec.name: VideoStore(out, codec, run_meta(clip, codec, codec.threads(threads), command), fresh)
              for codec in codecs}
    for codec in codecs:
        stores[codec.name].write_header(describe(codec, clip))
    if on_start is not None:
        on_start({codec.name: (sum(stores[codec.name].has(q) for q in codec.qualities), len(codec.qualities))
                  for codec in codecs})
    for codec in codecs:
        for quality in codec.qualities:
            if not stores[codec.name].has(quality):
                row = codec.measure(clip, quality)
                stores[codec.name].add(row)
                if on_row is not None:
                    on_row(codec.name, row)
    return {codec.name: stores[codec.name].finish(describe(codec, clip)) for codec in codecs}


def default_out(clip: Clip) -> Path:
    return Path("eval") / "results" / "video" / clip.name


def row_text(row: dict) -> str:
    """One measured row for progress output."""
    return (f"quality {row['quality']:g}: {row['bpp']:.4f} bpp, PSNR-RGB {row['psnr_rgb']:.2f} dB, "
            f"PSNR-YUV {row['psnr_yuv']:.2f} dB")
