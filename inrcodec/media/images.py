"""Reading and writing images and files for the CLI: 8-bit RGB in, 8-bit RGB out, nothing half-written.

Every problem a user can cause (a missing file, a format the codec cannot store) becomes an InrCodecError
with a one-line message that names the path. Pillow only; no torch.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from inrcodec.errors import InrCodecError
from inrcodec.media.files import atomic_write_bytes, check_readable_file, quote, reason

# Errors Pillow's decoders raise for damaged or unsupported files (besides UnidentifiedImageError, an OSError).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
HIGH_DEPTH_MODES = {"I": "32-bit integer", "F": "floating-point"}
CONVERTIBLE_MODES = frozenset({"1", "L", "P", "RGB", "RGBX", "YCbCr", "CMYK"})
# Formats whose writer loses information: decoding to them re-compresses the decoded pixels.
LOSSY_FORMATS = frozenset({"JPEG", "MPO", "WEBP", "AVIF", "HEIF", "JPEG2000"})
# Extensions of images and clips: an .inr file written under one of these names would mislead.
MEDIA_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif",
                            ".heic", ".heif", ".jxl", ".jp2", ".j2k", ".ppm", ".pgm", ".pnm", ".tga", ".ico",
                            ".y4m", ".mp4", ".mkv", ".mov", ".avi", ".webm"})  # fmt: skip
# A PNG or TIFF with 16-bit RGB samples opens in mode "RGB" (Pillow drops the low bytes); only the raw mode
# of its tile shows the depth. Other formats use ";16" for packed 5-6-5 pixels, so they are not checked.
_SIXTEEN_BIT_RAWMODE = re.compile(r";16[BLN]?$")
_FORMATS_WITH_16_BIT_RGB = frozenset({"PNG", "TIFF"})


def read_image(source: str | os.PathLike | bytes, keep_grey: bool = False, name: str = "the input") -> np.ndarray:
    """An image file (a path, or its bytes as read from stdin) -> uint8 [H, W, 3] RGB, upright as viewers show
    it (EXIF orientation applied).

    Palette, CMYK and YCbCr images are converted to RGB; greyscale ones too, unless keep_grey, which gives
    uint8 [H, W]. Images with transparency or with more than 8 bits per sample, animations and empty images are
    refused with an InrCodecError naming the path (or `name` for bytes).
    """
    if isinstance(source, bytes):
        label, opened = name, io.BytesIO(source)
    else:
        path = Path(source)
        label = quote(path)
        check_readable_file(path)
        try:
            opened = open(path, "rb")
        except OSError as exc:
            raise InrCodecError(f"cannot read {label}: {reason(exc)}") from None
    try:
        with opened, Image.open(opened) as image:
            return _pixels(image, label, keep_grey)
    except Image.DecompressionBombError:
        raise InrCodecError(f"{label} is too large to decode safely (over {2 * Image.MAX_IMAGE_PIXELS} pixels)") from None
    except UnidentifiedImageError:
        raise InrCodecError(f"{label} is not an image file in a format Pillow can read") from None
    except _DECODE_ERRORS as exc:
        raise InrCodecError(f"cannot decode {label}: {reason(exc)}") from None


def pil_pixels(image: Image.Image, keep_grey: bool = True) -> np.ndarray:
    """A PIL image -> uint8 [H, W, 3] RGB (or [H, W] for a grey one, with keep_grey), refused like read_image."""
    if not isinstance(image, Image.Image):
        raise InrCodecError(f"expected a path, a PIL image or a uint8 array, got {type(image).__name__}")
    try:
        return _pixels(image, "the image", keep_grey)
    except _DECODE_ERRORS as exc:
        raise InrCodecError(f"cannot decode the image: {reason(exc)}") from None


def _pixels(image: Image.Image, label: str, keep_grey: bool) -> np.ndarray:
    _check_storable(image, label)
    # np.array copies: np.asarray of a Pillow image is read-only, which torch.from_numpy warns about.
    mode = "L" if keep_grey and image.mode in ("L", "1") else "RGB"
    return np.array(ImageOps.exif_transpose(image).convert(mode), dtype=np.uint8)


def _check_storable(image: Image.Image, label: str) -> None:
    """Refuse what the codec cannot store as 8-bit RGB rather than silently dropping information."""
    width, height = image.size
    if width == 0 or height == 0:
        raise InrCodecError(f"{label} is empty ({width}x{height} pixels)")
    if getattr(image, "is_animated", False) and image.format != "MPO":  # MPO: a camera JPEG plus previews
        raise InrCodecError(f"{label} is animated; the codec stores still images, so extract one frame")
    depth = _high_depth_description(image)
    if depth:
        raise InrCodecError(
            f"{label}: {depth} samples are not supported; convert to 8-bit (the codec stores 8-bit RGB)"
        )
    if image.mode in ALPHA_MODES or "transparency" in image.info:
        raise InrCodecError(
            f"{label} has an alpha channel or transparency, but the codec stores RGB only; "
            "flatten it onto a background first"
        )
    if image.mode not in CONVERTIBLE_MODES:
        raise InrCodecError(f"{label}: Pillow image mode {image.mode!r} is not supported; convert to 8-bit RGB")


def _high_depth_description(image: Image.Image) -> str | None:
    """'16-bit' and the like for images with more than 8 bits per sample, else None."""
    if image.mode.startswith("I;16"):
        return "16-bit"
    if image.mode in HIGH_DEPTH_MODES:
        return HIGH_DEPTH_MODES[image.mode]
    if image.format in _FORMATS_WITH_16_BIT_RGB and _SIXTEEN_BIT_RAWMODE.search(_tile_rawmode(image)):
        return "16-bit"
    return None


def _tile_rawmode(image: Image.Image) -> str:
    """The raw (on-disk) pixel mode of the first tile, '' when Pillow does not say."""
    if not image.tile:
        return ""
    args = image.tile[0].args
    if isinstance(args, tuple):
        args = args[0] if args else ""
    return args if isinstance(args, str) else ""


def encode_image_file(rgb: np.ndarray, path: str | os.PathLike, image_format: str | None = None) -> bytes:
    """uint8 [H, W, 3] RGB or [H, W] grey -> the bytes of an image file in image_format (a Pillow format name),
    else the format that the extension of path names (PNG if none)."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or not (rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 3)):
        raise ValueError(f"expected uint8 [H, W, 3] RGB or [H, W] grey, got {rgb.dtype} {list(rgb.shape)}")
    path = Path(path)
    image_format = image_format or image_format_for_path(path)
    buffer = io.BytesIO()
    try:
        # PNG at zlib level 3: half the time of the default level 6 for 1-2 % more bytes (768x512: 0.06 s, not 0.14)
        options = {"compress_level": 3} if image_format == "PNG" else {}
        Image.fromarray(rgb, "L" if rgb.ndim == 2 else "RGB").save(buffer, format=image_format, **options)
    except (KeyError, OSError, ValueError) as exc:
        raise InrCodecError(f"cannot write {quote(path)} as {image_format}: {reason(exc)}") from None
    return buffer.getvalue()


def image_format_for_path(path: str | os.PathLike, default: str = "PNG") -> str:
    """The Pillow format that writes `path`, from its extension: `default` when there is none."""
    suffix = Path(path).suffix.lower()
    if not suffix:
        return image_format_named(default)
    # Pillow's common plugins first: loading all of them (registered_extensions) costs ~0.3 s of a 1 s decode
    Image.preinit()
    image_format = Image.EXTENSION.get(suffix)
    if image_format is None or image_format not in Image.SAVE:
        image_format = Image.registered_extensions().get(suffix)
    if image_format is None or image_format not in Image.SAVE:
        raise InrCodecError(f"cannot write {quote(Path(path))}: unknown image extension {suffix!r} (use .png)")
    return image_format


def image_format_named(name: str) -> str:
    """A format name as users write it ('png', 'jpg', 'tiff') -> the Pillow format that writes it."""
    if name.upper() == "PNG":
        return "PNG"
    try:
        return image_format_for_path(Path(f"image.{name.lower().lstrip('.')}"))
    except InrCodecError:
        raise InrCodecError(f"unknown image format {name!r} (png, tiff, bmp, jpg, webp, ...)") from None


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write uint8 [H, W, 3] RGB or [H, W] grey as an image file (format from the extension, PNG if none),
    atomically."""
    atomic_write_bytes(path, encode_image_file(rgb, path))


