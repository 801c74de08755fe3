"""Reading and writing video for the video codec: 8-bit RGB frames in and out, one at a time, nothing half-written.

A video is a .y4m file, a container that FFmpeg (through PyAV) reads (.mp4 .mkv .mov .avi .webm), or a folder of
image files, one per frame, in natural order (frame_2 before frame_10). Reading and writing stream: one frame is
held at a time, never the whole clip.

Colour: decoded YUV becomes RGB through swscale (VideoFrame.to_ndarray(format="rgb24")), which honours the matrix
and range a stream is tagged with. Untagged yuv420p/yuv444p is taken as BT.601 limited range (Y 16-235, Cb/Cr
16-240), swscale's default; that is the matrix of every .y4m, a format with no field for it (its XCOLORRANGE=FULL
is honoured). Checked against the BT.601 formulas to within 1 level for 4:4:4 with PyAV 12.3 (FFmpeg 6.1) and 18.1
(FFmpeg 8.1); 4:2:0 chroma is upsampled bilinearly, a few levels from nearest-neighbour upsampling at edges.
The .y4m writer converts RGB with the same BT.601 limited matrix and writes XCOLORRANGE=LIMITED, so its files read
back consistently here and in FFmpeg.

Every problem a user can cause (a missing or damaged file, a pixel format the codec cannot store, frames of
varying size) becomes an InrCodecError with a one-line message that names the path.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

from inrcodec.extras import require
from inrcodec.errors import InrCodecError
from inrcodec.media.files import new_file_mode, quote, reason, remove_quietly
from inrcodec.media.images import encode_image_file, read_image

av = require("av", "reading and writing clips")

DEFAULT_FPS = Fraction(25)
CONTAINER_EXTENSIONS = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm"})
# What write_video writes as a file; any other video extension is refused, a path without one is a frame folder.
WRITABLE_EXTENSIONS = (".y4m", ".mkv", ".mp4")
FRAME_NAME = "frame_{:05d}.png"  # numbered from 1, as ffmpeg's image2 muxer does

_Y4M_FORMAT = "yuv4mpegpipe"
_Y4M_FRAME_MARKER = b"FRAME\n"
_Y4M_HEADER_LIMIT = 4096  # FFmpeg reads at most 256 bytes of header line; more than enough
_DIGITS = re.compile(r"([0-9]+)")
# FFmpeg's AVColorRange / AVColorSpace values for BT.601 limited range (PyAV's enums for them vary by version).
_AVCOL_RANGE_MPEG = 1
_AVCOL_SPC_SMPTE170M = 6


@dataclass(frozen=True)
class VideoInfo:
    """What a video's header (or a frame folder's first image) says, before any frame is decoded.

    frame_count is None when the container does not record it (Matroska usually does not); fps is None for frame
    folders and containers without a frame rate. source is "y4m", "container" or "frames"; pixel_format is the
    FFmpeg name of the stored format ("yuv420p", "bgr0", ...), "rgb24" for frame folders, "unknown" if the header
    does not say.
    """

    width: int
    height: int
    frame_count: int | None
    fps: Fraction | None
    source: str
    pixel_format: str


class VideoReader:
    """A video opened by open_video: `info`, and `frames()` to decode it one frame at a time."""

    def __init__(self, path: Path, info: VideoInfo, frame_files: tuple[Path, ...] = ()):
        self.path = path
        self.info = info
        self._frame_files = frame_files

    def frames(self) -> Iterator[np.ndarray]:
        """Each frame as uint8 [H, W, 3] RGB, in order, decoded on demand.

        Streams: memory holds one decoded frame at a time (plus the decoder's own reference frames), never the
        whole clip. Each call starts again from the first frame. A problem found while decoding (a damaged frame,
        a frame of another size, no frame at all) raises InrCodecError once the frames before it were yielded.
        """
        if self.info.source == "frames":
            return self._folder_frames()
        return self._decoded_frames()

    def _folder_frames(self) -> Iterator[np.ndarray]:
        first = self._frame_files[0]
        for file in self._frame_files:
            rgb = read_image(file)
            height, width = rgb.shape[:2]
            if (width, height) != (self.info.width, self.info.height):
                raise InrCodecError(
                    f"frame {quote(file)} is {width}x{height} but the first frame {quote(first)} is "
                    f"{self.info.width}x{self.info.height}; frames of varying size are not supported"
                )
            yield rgb

    def _decoded_frames(self) -> Iterator[np.ndarray]:
        count = 0
        checked_formats = {self.info.pixel_format}
        with _open_container(self.path, self.info.source) as container:
            decoded = container.decode(_video_stream(container, self.path))
            while True:
                try:
                    frame = next(decoded, None)
                except av.error.FFmpegError as exc:
                    raise InrCodecError(
                        f"cannot decode frame {count} (counting from 0) of {quote(self.path)}: {_av_reason(exc)}"
                    ) from None
                if frame is None:
                    break
                # The header's format was checked at open; a stream may still switch formats part-way.
                if frame.format.name not in checked_formats:
                    _check_pixel_format(frame.format.name, self.path)
                    checked_formats.add(frame.format.name)
                if (frame.width, frame.height) != (self.info.width, self.info.height):
                    reference = "frame 0" if count else "its header"
                    raise InrCodecError(
                        f"frame {count} (counting from 0) of {quote(self.path)} is {frame.width}x{frame.height} but "
                        f"{reference} is {self.info.width}x{self.info.height}; frames of varying size are not supported"
                    )
                yield frame.to_ndarray(format="rgb24")
                count += 1
        if count == 0:
            raise InrCodecError(f"{quote(self.path)} contains no decodable video frame")


def open_video(path: str | os.PathLike) -> VideoReader:
    """Open a .y4m file, a video container (.mp4 .mkv .mov .avi .webm) or a folder of frames for reading.

    Reads the header (a frame folder's first image) only; VideoReader.frames() decodes. In a folder, the image
    files Pillow can open are the frames, sorted in natural order (frame_2 before frame_10); hidden files and
    other files are ignored. Refuses, with an InrCodecError: a missing path, an unreadable or damaged file, a
    file without a video stream, an empty folder, and pixel formats with alpha or more than 8 bits per sample.
    """
    path = Path(path)
    if not path.exists():
        raise InrCodecError(f"{quote(path)} does not exist")
    if path.is_dir():
        return _open_frame_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".y4m":
        return _open_decoded(path, "y4m")
    if suffix in CONTAINER_EXTENSIONS:
        return _open_decoded(path, "container")
    raise InrCodecError(
        f"cannot read {quote(path)} as video: unknown extension {suffix!r} "
        "(use .y4m, .mp4, .mkv, .mov, .avi, .webm or a folder of frames)"
    )


def _open_frame_folder(path: Path) -> VideoReader:
    readable = {ext for ext, image_format in Image.registered_extensions().items() if image_format in Image.OPEN}
    # Hidden files are skipped: .DS_Store and the like, and the temporary folders write_video leaves while writing.
    files = [
        entry
        for entry in path.iterdir()
        if not entry.name.startswith(".") and entry.suffix.lower() in readable and entry.is_file()
    ]
    if not files:
        raise InrCodecError(f"folder {quote(path)} contains no image files (frames)")
    files.sort(key=lambda entry: (_natural_key(entry.name), entry.name))
    first = read_image(files[0])
    height, width = first.shape[:2]
    info = VideoInfo(width, height, len(files), None, "frames", "rgb24")
    return VideoReader(path, info, tuple(files))


def _natural_key(name: str) -> list:
    """Sort key that orders runs of digits by value: frame_2 < frame_10."""
    # re.split with a capturing group puts the digit runs at odd indices, so int and str never meet in a comparison.
    return [int(part) if index % 2 else part.casefold() for index, part in enumerate(_DIGITS.split(name))]


def _open_decoded(path: Path, source: str) -> VideoReader:
    with _open_container(path, source) as container:
        stream = _video_stream(container, path)
        context = stream.codec_context
        pixel_format = context.pix_fmt or "unknown"
        if pixel_format != "unknown":
            _check_pixel_format(pixel_format, path)
        width, height = context.width, context.height
        fps = _stream_fps(stream)
        frame_count = stream.frames or None
    if width <= 0 or height <= 0:
        raise InrCodecError(f"{quote(path)}: the video stream has no frame size ({width}x{height})")
    if source == "y4m":
        frame_count = _y4m_frame_count(path, width, height, pixel_format)
    return VideoReader(path, VideoInfo(width, height, frame_count, fps, source, pixel_format))


def _open_container(path: Path, source: str):
    """av.open for reading, with FFmpeg's errors as one-line InrCodecErrors."""
    try:
        # .y4m is opened as y4m: probing could take a damaged one for something else.
        return av.open(str(path), format=_Y4M_FORMAT if source == "y4m" else None)
    except av.error.FFmpegError as exc:
        if source == "y4m":
            raise InrCodecError(
                f"cannot read {quote(path)}: not a YUV4MPEG2 file, or its header is damaged or truncated "
                f"({_av_reason(exc)})"
            ) from None
        if isinstance(exc, EOFError):
            raise InrCodecError(f"cannot read {quote(path)}: the file ends early (empty or truncated)") from None
        raise InrCodecError(f"cannot read {quote(path)} as video: {_av_reason(exc)}") from None


def _video_stream(container, path: Path):
    """The first video stream, skipping cover art (an attached picture is a one-frame video stream)."""
    disposition = getattr(av.stream, "Disposition", None)  # PyAV >= 13
    for stream in container.streams.video:
        if disposition is None or not stream.disposition & disposition.attached_pic:
            return stream
    raise InrCodecError(f"{quote(path)} has no video stream")


def _stream_fps(stream) -> Fraction | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return Fraction(rate)
    return None


def _check_pixel_format(name: str, path: Path) -> None:
    """Refuse what the codec cannot store as 8-bit RGB rather than silently dropping alpha or low bits."""
    try:
        components = av.video.format.VideoFormat(name).components
    except (ValueError, av.error.FFmpegError):
        raise InrCodecError(f"{quote(path)}: unknown pixel format {name!r}") from None
    bits = max((component.bits for component in components), default=0)
    if bits > 8:
        raise InrCodecError(
            f"{quote(path)} has pixel format {name} ({bits} bits per sample); only 8-bit video is supported, "
            "convert it first (e.g. ffmpeg -pix_fmt yuv420p)"
        )
    if any(component.is_alpha for component in components):
        raise InrCodecError(
            f"{quote(path)} has pixel format {name}, which has an alpha channel; only RGB/YUV without alpha "
            "is supported, convert it first (e.g. ffmpeg -pix_fmt yuv420p)"
        )


def _y4m_frame_count(path: Path, width: int, height: int, pixel_format: str) -> int | None:
    """The number of frames of a .y4m file from its size; None when frame headers carry parameters.

    Also catches a truncated last frame, which FFmpeg's demuxer drops without a word.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(_Y4M_HEADER_LIMIT + len(_Y4M_FRAME_MARKER))
        size = path.stat().st_size
        planes = {}
        for component in av.video.format.VideoFormat(pixel_format, width, height).components:
            planes.setdefault(component.plane, component.width * component.height * math.ceil(component.bits / 8))
    except (OSError, ValueError, av.error.FFmpegError):
        return None
    header_end = head.find(b"\n") + 1
    if header_end == 0:
        return None
    if size == header_end:
        return 0
    # "FRAME" may be followed by parameters, which change the per-frame size: then only decoding can count.
    if head[header_end : header_end + len(_Y4M_FRAME_MARKER)] != _Y4M_FRAME_MARKER:
        return None
    frame_size = len(_Y4M_FRAME_MARKER) + sum(planes.values())
    count, remainder = divmod(size - header_end, frame_size)
    if remainder:
        raise InrCodecError(
            f"{quote(path)} is truncated: it ends part-way through frame {count} (counting from 0), "
            f"{remainder} of {frame_size} bytes"
        )
    return count


# ---- writing ----


@dataclass(frozen=True)
class _Encoding:
    container_format: str
    codec: str
    pixel_format: str
    options: dict
    # True: frames are converted to YUV with BT.601 limited range (and tagged so); False: RGB stays RGB.
    yuv: bool = False


def write_video(
    path: str | os.PathLike, frames: Iterable[np.ndarray], fps: Fraction | None, lossless: bool = True
) -> int:
    """Write uint8 [H, W, 3] RGB frames as a video; returns the number of frames written.

    The output path says how:
      .mkv  FFV1 on bgr0: bit-exact RGB.
      .mp4  H.264 RGB (libx264rgb, qp 0): bit-exact RGB; refused if this FFmpeg has no libx264rgb (use .mkv).
      .y4m  yuv444p, BT.601 limited range: a YUV conversion, so not bit-exact RGB (within 2 levels).
      no extension: a folder of PNG files frame_00001.png, frame_00002.png, ... (bit-exact); an existing folder
            must be empty.
    lossless=False writes smaller files that common players open: .mp4 and .mkv as H.264 yuv420p (libx264, crf
    18, even width and height only), .y4m as yuv420p; a frame folder is PNG, lossless either way.
    fps None means 25 frames per second (frame folders store no rate).

    Streams: frames are consumed one at a time. Atomic: everything goes to a temporary file or folder beside the
    output, renamed at the end and removed on any failure, Ctrl-C included; an existing file is replaced.
    Refuses, with an InrCodecError and no output: no frames, frames that are not uint8 [H, W, 3], frames of
    varying size.
    """
    path = Path(path)
    rate = _frame_rate(fps, path)
    kind = _output_kind(path)
    _check_video_output(path, kind)
    encoding = None if kind == "frames" else _encoding(path, kind, lossless)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise InrCodecError(f"no frames to write to {quote(path)}")
    first = _checked_frame(first, 0, None, path)
    height, width = first.shape[:2]
    if encoding is not None and encoding.codec == "libx264" and (width % 2 or height % 2):
        raise InrCodecError(
            f"cannot write {quote(path)}: lossy H.264 (4:2:0) needs an even width and height, "
            f"the frames are {width}x{height}; write it losslessly"
        )
    all_frames = itertools.chain([first], frames)
    try:
        if encoding is None:
            return _write_frame_folder(path, all_frames, (height, width))
        return _write_container(path, all_frames, (height, width), rate, encoding)
    except OSError as exc:  # disk full, permissions; the temporary output is already gone
        raise InrCodecError(f"cannot write {quote(path)}: {reason(exc)}") from None


def _frame_rate(fps, path: Path) -> Fraction:
    if fps is None:
        return DEFAULT_FPS
    try:
        if isinstance(fps, float):
            # 29.97 -> 2997/100 and 30000/1001 (as a float) -> 30000/1001; a float's exact ratio is unwieldy.
            rate = Fraction(fps).limit_denominator(1001) if math.isfinite(fps) else Fraction(0)
        else:
            rate = Fraction(fps)
    except (TypeError, ValueError, ZeroDivisionError):
        rate = Fraction(0)
    if rate <= 0:
        raise InrCodecError(f"cannot write {quote(path)}: fps must be a positive number, not {fps!r}")
    return rate


def _output_kind(path: Path) -> str:
    """'y4m', 'mkv', 'mp4', or 'frames' for a path without a media extension."""
    suffix = path.suffix.lower()
    if suffix in WRITABLE_EXTENSIONS:
        return suffix[1:]
    if suffix in CONTAINER_EXTENSIONS:
        raise InrCodecError(f"cannot write {quote(path)}: {suffix} is not supported; use .mkv, .mp4 or .y4m")
    if suffix in Image.registered_extensions():
        raise InrCodecError(
            f"cannot write a video to {quote(path)}: {suffix} is an image extension; "
            "give a folder name without one for PNG frames"
        )
    return "frames"


def _check_video_output(path: Path, kind: str) -> None:
    parent = path.parent
    if not parent.is_dir():
        raise InrCodecError(f"cannot write {quote(path)}: directory {quote(parent)} does not exist")
    if kind == "frames":
        if path.exists() and not path.is_dir():
            raise InrCodecError(f"cannot write frames to {quote(path)}: it exists and is not a folder")
        if path.is_dir() and any(path.iterdir()):
            raise InrCodecError(f"output folder {quote(path)} exists and is not empty")
    elif path.is_dir():
        raise InrCodecError(f"output {quote(path)} is a directory")


def _encoding(path: Path, kind: str, lossless: bool) -> _Encoding:
    if kind == "y4m":
        # The muxer takes raw frames; y4m has no RGB layouts, hence YUV.
        return _Encoding(_Y4M_FORMAT, "rawvideo", "yuv444p" if lossless else "yuv420p", {}, yuv=True)
    container_format = "matroska" if kind == "mkv" else "mp4"
    if not lossless:
        _require_encoder("libx264", path, "lossy H.264")
        return _Encoding(container_format, "libx264", "yuv420p", {"crf": "18"}, yuv=True)
    if kind == "mkv":
        # FFV1 stores 8-bit RGB as bgr0 (its gbrp is 9 bits and up), losslessly through a reversible transform.
        _require_encoder("ffv1", path, "lossless RGB Matroska")
        return _Encoding(container_format, "ffv1", "bgr0", {})
    _require_encoder("libx264rgb", path, "lossless RGB MP4", hint="; write .mkv (FFV1) instead")
    return _Encoding(container_format, "libx264rgb", "rgb24", {"qp": "0"})  # qp 0 makes x264 lossless


def _require_encoder(name: str, path: Path, purpose: str, hint: str = "") -> None:
    try:
        av.codec.Codec(name, "w")
    except Exception:  # PyAV raises UnknownCodecError, or ValueError in older versions
        raise InrCodecError(
            f"cannot write {quote(path)}: this FFmpeg build has no {name} encoder, needed for {purpose}{hint}"
        ) from None


def _checked_frame(rgb, index: int, size: tuple[int, int] | None, path: Path) -> np.ndarray:
    """The frame as a C-contiguous uint8 [H, W, 3] array, the same size as frame 0."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InrCodecError(
            f"frame {index} (counting from 0) for {quote(path)} is {rgb.dtype} {list(rgb.shape)}; "
            "expected uint8 [H, W, 3] RGB"
        )
    height, width = rgb.shape[:2]
    if height == 0 or width == 0:
        raise InrCodecError(f"frame {index} (counting from 0) for {quote(path)} is empty ({width}x{height})")
    if size is not None and (height, width) != size:
        raise InrCodecError(
            f"frame {index} (counting from 0) for {quote(path)} is {width}x{height} but frame 0 is "
            f"{size[1]}x{size[0]}; frames of varying size are not supported"
        )
    return np.ascontiguousarray(rgb)


def _write_container(
    path: Path, frames: Iterable[np.ndarray], size: tuple[int, int], rate: Fraction, encoding: _Encoding
) -> int:
    mode = new_file_mode(path)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    count = 0
    try:
        try:
            # The format is named: the temporary name's extension says nothing.
            container = av.open(temp_name, "w", format=encoding.container_format)
        except av.error.FFmpegError as exc:
            raise InrCodecError(f"cannot write {quote(path)}: {_av_reason(exc)}") from None
        try:
            count = _encode(container, frames, size, rate, encoding, path)
        except BaseException:
            # Closed by hand, not by `with`: an error while closing must not replace the first one (Ctrl-C included).
            try:
                container.close()
            except Exception:
                pass
            raise
        try:
            container.close()  # writes the trailer (the MP4 index, Matroska cues)
        except av.error.FFmpegError as exc:
            raise InrCodecError(f"cannot write {quote(path)}: {_av_reason(exc)}") from None
        with open(temp_name, "rb") as temp:
            os.fsync(temp.fileno())
        os.chmod(temp_name, mode)  # mkstemp creates 0600; the user expects the usual permissions
        os.replace(temp_name, path)
    except BaseException:
        remove_quietly(temp_name)
        raise
    return count


def _encode(container, frames, size, rate: Fraction, encoding: _Encoding, path: Path) -> int:
    height, width = size
    stream = container.add_stream(encoding.codec, rate=rate, options=encoding.options)
    stream.width, stream.height = width, height
    stream.pix_fmt = encoding.pixel_format
    if encoding.yuv:
        # Tag what the conversion below does, so readers need not guess (y4m keeps the range only).
        stream.codec_context.color_range = _AVCOL_RANGE_MPEG
        if encoding.container_format != _Y4M_FORMAT:
            stream.codec_context.colorspace = _AVCOL_SPC_SMPTE170M
    count = 0
    try:
        for index, rgb in enumerate(frames):
            if index:
                rgb = _checked_frame(rgb, index, size, path)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if encoding.yuv:
                frame = frame.reformat(
                    format=encoding.pixel_format, dst_colorspace="ITU601", dst_color_range="MPEG"
                )
            elif encoding.pixel_format != "rgb24":
                frame = frame.reformat(format=encoding.pixel_format)
            frame.pts = index  # in the codec's time base, 1/fps
            for packet in stream.encode(frame):
                container.mux(packet)
            count += 1
        for packet in stream.encode(None):  # flush the encoder's delayed frames
            container.mux(packet)
    except av.error.FFmpegError as exc:
        raise InrCodecError(f"cannot write {quote(path)}: {_av_reason(exc)}") from None
    return count


def _write_frame_folder(path: Path, frames: Iterable[np.ndarray], size: tuple[int, int]) -> int:
    # A hidden name, so that a reader of the parent folder never takes a half-written clip for frames.
    temp_dir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    count = 0
    try:
        for index, rgb in enumerate(frames):
            if index:
                rgb = _checked_frame(rgb, index, size, path)
            name = FRAME_NAME.format(index + 1)
            with open(temp_dir / name, "wb") as file:
                file.write(encode_image_file(rgb, name))
                file.flush()
                os.fsync(file.fileno())
            count += 1
        os.chmod(temp_dir, new_file_mode(path, 0o777))  # mkdtemp creates 0700
        if path.is_dir():
            os.rmdir(path)  # the empty folder checked before; rename cannot replace a folder on every system
        os.rename(temp_dir, path)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    return count


def _av_reason(exc: BaseException) -> str:
    """FFmpeg's message without PyAV's errno and file name, e.g. 'Invalid data found when processing input'."""
    return getattr(exc, "strerror", None) or reason(exc)
