"""The video side of `inrcodec encode`, `decode` and `info`: which inputs are clips, and the commands' bodies.

cli/codec.py decides image or video and calls these; the work is in video/clip_v2.py (format 2.3 - 2.5; format 1.2 files
are still decoded by video/decoder_v1.py), video_decoder.py and media/video.py.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import typer

from inrcodec.errors import InrCodecError

VIDEO_SUFFIXES = frozenset({".y4m", ".mp4", ".mkv", ".mov", ".avi", ".webm"})


def is_video_input(path: Path) -> bool:
    """A folder of frames or a file with a video extension."""
    return path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES


def encode_clip(input_path: Path, quality: int, preset: str, model: str, gop: int, steps: int | None,
                jobs: int = 1) -> dict:  # fmt: skip
    """Encode a clip as format 2.3 (2.4 with scale offsets, 2.5 with a temporal mix); -> the codec's stats. steps
    overrides the predicted frames' refinement steps; jobs: processes coding frames at once."""
    from inrcodec.media.video import open_video
    from inrcodec.video.clip_v2 import encode_clip_v2

    if model == "none":
        raise InrCodecError("video needs a model: an installed v2 model id, or 'default'")
    frame_count = open_video(input_path).info.frame_count
    with frame_progress(frame_count) as on_frame:
        result = encode_clip_v2(input_path, quality, preset, model, gop, on_frame, inter_steps=steps, jobs=jobs)
    return {"data": result.data, **result.stats}


@contextmanager
def frame_progress(total: int | None) -> Iterator[Callable[[int, dict], None]]:
    """A bar over frames on a terminal; otherwise a line on stderr every 10 frames."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("encoding frames"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    task = progress.add_task("frames", total=total)
    started = time.perf_counter()

    def on_frame(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)
        if not console.is_terminal and done % 10 == 0:
            console.print(f"frame {done} of {total} coded, {time.perf_counter() - started:.0f} s", highlight=False)

    with progress:
        yield on_frame


def clip_frame_count(data: bytes) -> int:
    """The frames of a format 2.3 - 2.5 or 1.2 video file (its header only)."""
    from inrcodec.api import clip_format

    if clip_format(data) == 2:
        from inrcodec.bitstream.video_v2 import parse_video

        return len(parse_video(data, max_pixels=1 << 62).frames)
    from inrcodec.video.file import VideoFile

    return VideoFile.from_bytes(data).video["frame_count"]


def decode_clip(data: bytes, output: Path, frame: int | None) -> dict:
    """Decode a video file (format 2.3 - 2.5 or 1.2) to OUTPUT (a video, a frame folder, or with `frame` one image)
    -> stats."""
    from inrcodec.api import clip_format
    from inrcodec.media.images import write_image
    from inrcodec.media.video import write_video

    start = time.perf_counter()
    if clip_format(data) == 2:
        from inrcodec.video_decoder import VideoDecoder

        decoder = VideoDecoder(data)
        width, height, count, fps = decoder.file.width, decoder.file.height, decoder.frame_count, decoder.file.fps
        fps = Fraction(*fps) if fps[0] else None
        one = decoder.frame
        everything = decoder.frames_in_order
    else:
        from inrcodec.video.decoder_v1 import decode_frame, decode_video, file_fps
        from inrcodec.video.file import VideoFile

        header = VideoFile.from_bytes(data)
        width, height, count = header.image["width"], header.image["height"], header.video["frame_count"]
        fps = file_fps(header)
        one = lambda index: decode_frame(data, index)  # noqa: E731
        everything = lambda: decode_video(data)  # noqa: E731
    if frame is not None:
        rgb = one(frame)
        decode_seconds = time.perf_counter() - start
        write_image(output, rgb)
        frames = 1
    else:
        frames = write_video(output, everything(), fps)
        decode_seconds = time.perf_counter() - start
    return {
        "output": str(output),
        "bytes": len(data),
        "bpp": len(data) * 8 / (width * height * count),
        "width": width,
        "height": height,
        "frames_in_file": count,
        "frames_written": frames,
        "frame": frame,
        "decode_seconds": decode_seconds,
    }


def echo_encoded(output: Path, stats: dict) -> None:
    typer.echo(
        f"{output}: {stats['bytes']} bytes, {stats['bpp']:.4f} bpp, PSNR {stats['psnr_rgb']:.2f} dB "
        f"({stats['frames']} frames of {stats['width']}x{stats['height']}, quality {stats['quality']}, "
        f"group {stats['gop']}, model {stats['model']}, {stats['encode_seconds']:.1f} s)"
    )
