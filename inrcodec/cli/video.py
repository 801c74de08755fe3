"""The video side of `inrcodec encode`, `decode` and `info`: which inputs are clips, and the commands' bodies.

cli/codec.py decides image or video and calls these; the work is in video/codec.py and media/video.py.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import typer

from inrcodec.errors import InrCodecError

VIDEO_SUFFIXES = frozenset({".y4m", ".mp4", ".mkv", ".mov", ".avi", ".webm"})


def is_video_input(path: Path) -> bool:
    """A folder of frames or a file with a video extension."""
    return path.is_dir() or path.suffix.lower() in VIDEO_SUFFIXES


def encode_clip(input_path: Path, quality: int, preset: str, model: str, gop: int, steps: int | None) -> dict:
    """Encode a clip; -> the codec's stats. steps overrides the later frames' fit steps."""
    from inrcodec.presets import VIDEO_PRESET_STEPS
    from inrcodec.video.codec import encode_video
    from inrcodec.media.video import open_video

    if model == "none":
        raise InrCodecError("video needs a model: an installed model id, or 'default' for the video model")
    first_steps, later_steps = VIDEO_PRESET_STEPS[preset]
    schedule = (first_steps, steps if steps is not None else later_steps)
    frame_count = open_video(input_path).info.frame_count
    with frame_progress(frame_count) as on_frame:
        result = encode_video(input_path, quality, preset, model, gop, on_frame, schedule)
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
        TextColumn("{task.fields[kbytes]:.1f} kB"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    task = progress.add_task("frames", total=total, kbytes=0.0)
    started = time.perf_counter()

    def on_frame(index: int, stats: dict) -> None:
        progress.update(task, completed=index + 1, kbytes=stats["bytes"] / 1000)
        if not console.is_terminal and (index + 1) % 10 == 0:
            console.print(f"frame {index + 1}: {stats['bytes']} bytes, {time.perf_counter() - started:.0f} s", highlight=False)

    with progress:
        yield on_frame


def decode_clip(data: bytes, output: Path, frame: int | None) -> dict:
    """Decode a video file to OUTPUT (a video, a frame folder, or with `frame` one image) -> stats."""
    from inrcodec.media.images import write_image
    from inrcodec.video.codec import decode_frame, decode_video, file_fps
    from inrcodec.video.file import VideoFile
    from inrcodec.media.video import write_video

    header = VideoFile.from_bytes(data)
    width, height = header.image["width"], header.image["height"]
    start = time.perf_counter()
    if frame is not None:
        rgb = decode_frame(data, frame)
        decode_seconds = time.perf_counter() - start
        write_image(output, rgb)
        frames = 1
    else:
        frames = write_video(output, decode_video(data), file_fps(header))
        decode_seconds = time.perf_counter() - start
    count = header.video["frame_count"]
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
