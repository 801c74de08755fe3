"""Reading and writing images and files for the CLI: 8-bit RGB in, 8-bit RGB out, nothing half-written.

Every problem a user can cause (a missing file, a format the codec cannot store) becomes an InrCodecError
with a one-line message that names the path. Pillow only; no torch.
"""

from __future__ import annotations

import io
import os
import re
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from inrcodec.errors import InrCodecError

# Errors Pillow's decoders raise for damaged or unsupported files (besides UnidentifiedImageError, an OSError).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
HIGH_DEPTH_MODES = {"I": "32-bit integer", "F": "floating-point"}
CONVERTIBLE_MODES = frozenset({"1", "L", "P", "RGB", "RGBX", "YCbCr", "CMYK"})
# A PNG or TIFF with 16-bit RGB samples opens in mode "RGB" (Pillow drops the low bytes); only the raw mode
# of its tile shows the depth. Other formats use ";16" for packed 5-6-5 pixels, so they are not checked.
_SIXTEEN_BIT_RAWMODE = re.compile(r";16[BLN]?$")
_FORMATS_WITH_16_BIT_RGB = frozenset({"PNG", "TIFF"})


MAX_FILE_BYTES = 1 << 30  # an .inr file larger than 1 GiB is refused rather than read into memory


def read_bytes(path: str | os.PathLike, limit: int = MAX_FILE_BYTES) -> bytes:
    """The whole content of a regular file of at most `limit` bytes; InrCodecError naming the path otherwise
    (a device such as /dev/zero, a pipe, or a file that grows past the limit while it is read)."""
    path = Path(path)
    _check_readable_file(path)
    if not path.is_file():
        raise InrCodecError(f"{_quote(path)} is not a regular file")
    try:
        with open(path, "rb") as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise InrCodecError(f"cannot read {_quote(path)}: {_reason(exc)}") from None
    if len(data) > limit:
        raise InrCodecError(f"{_quote(path)} is larger than {limit} bytes")
    return data


def read_image(path: str | os.PathLike, keep_grey: bool = False) -> np.ndarray:
    """An image file -> uint8 [H, W, 3] RGB, upright as viewers show it (EXIF orientation applied).

    Palette, CMYK and YCbCr images are converted to RGB; greyscale ones too, unless keep_grey, which gives
    uint8 [H, W]. Images with transparency or with more than 8 bits per sample, animations and empty images are
    refused with an InrCodecError.
    """
    path = Path(path)
    _check_readable_file(path)
    try:
        file = open(path, "rb")
    except OSError as exc:
        raise InrCodecError(f"cannot read {_quote(path)}: {_reason(exc)}") from None
    try:
        with file, Image.open(file) as image:
            _check_storable(image, path)
            # np.array copies: np.asarray of a Pillow image is read-only, which torch.from_numpy warns about.
            mode = "L" if keep_grey and image.mode in ("L", "1") else "RGB"
            rgb = np.array(ImageOps.exif_transpose(image).convert(mode), dtype=np.uint8)
    except Image.DecompressionBombError:
        raise InrCodecError(
            f"{_quote(path)} is too large to decode safely (over {2 * Image.MAX_IMAGE_PIXELS} pixels)"
        ) from None
    except UnidentifiedImageError:
        raise InrCodecError(f"{_quote(path)} is not an image file in a format Pillow can read") from None
    except _DECODE_ERRORS as exc:
        raise InrCodecError(f"cannot decode {_quote(path)}: {_reason(exc)}") from None
    return rgb


def _check_readable_file(path: Path) -> None:
    if not path.exists():
        raise InrCodecError(f"{_quote(path)} does not exist")
    if path.is_dir():
        raise InrCodecError(f"{_quote(path)} is a directory, not a file")


def _check_storable(image: Image.Image, path: Path) -> None:
    """Refuse what the codec cannot store as 8-bit RGB rather than silently dropping information."""
    width, height = image.size
    if width == 0 or height == 0:
        raise InrCodecError(f"{_quote(path)} is empty ({width}x{height} pixels)")
    if getattr(image, "is_animated", False) and image.format != "MPO":  # MPO: a camera JPEG plus previews
        raise InrCodecError(f"{_quote(path)} is animated; the codec stores still images, so extract one frame")
    depth = _high_depth_description(image)
    if depth:
        raise InrCodecError(
            f"{_quote(path)}: {depth} samples are not supported; convert to 8-bit (the codec stores 8-bit RGB)"
        )
    if image.mode in ALPHA_MODES or "transparency" in image.info:
        raise InrCodecError(
            f"{_quote(path)} has an alpha channel or transparency, but the codec stores RGB only; "
            "flatten it onto a background first"
        )
    if image.mode not in CONVERTIBLE_MODES:
        raise InrCodecError(f"{_quote(path)}: Pillow image mode {image.mode!r} is not supported; convert to 8-bit RGB")


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


def encode_image_file(rgb: np.ndarray, path: str | os.PathLike) -> bytes:
    """uint8 [H, W, 3] RGB or [H, W] grey -> the bytes of an image file whose format follows the extension
    (PNG if none)."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or not (rgb.ndim == 2 or (rgb.ndim == 3 and rgb.shape[2] == 3)):
        raise ValueError(f"expected uint8 [H, W, 3] RGB or [H, W] grey, got {rgb.dtype} {list(rgb.shape)}")
    path = Path(path)
    image_format = image_format_for_path(path)
    buffer = io.BytesIO()
    try:
        # PNG at zlib level 3: half the time of the default level 6 for 1-2 % more bytes (768x512: 0.06 s, not 0.14)
        options = {"compress_level": 3} if image_format == "PNG" else {}
        Image.fromarray(rgb, "L" if rgb.ndim == 2 else "RGB").save(buffer, format=image_format, **options)
    except (KeyError, OSError, ValueError) as exc:
        raise InrCodecError(f"cannot write {_quote(path)} as {image_format}: {_reason(exc)}") from None
    return buffer.getvalue()


def image_format_for_path(path: str | os.PathLike) -> str:
    """The Pillow format that writes `path`, from its extension: PNG when there is none."""
    suffix = Path(path).suffix.lower()
    if not suffix:
        return "PNG"
    # Pillow's common plugins first: loading all of them (registered_extensions) costs ~0.3 s of a 1 s decode
    Image.preinit()
    image_format = Image.EXTENSION.get(suffix)
    if image_format is None or image_format not in Image.SAVE:
        image_format = Image.registered_extensions().get(suffix)
    if image_format is None or image_format not in Image.SAVE:
        raise InrCodecError(f"cannot write {_quote(Path(path))}: unknown image extension {suffix!r} (use .png)")
    return image_format


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write uint8 [H, W, 3] RGB or [H, W] grey as an image file (format from the extension, PNG if none),
    atomically."""
    atomic_write_bytes(path, encode_image_file(rgb, path))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one, never a part.

    The bytes go to a temporary file in the same directory (os.replace is atomic only within a file system),
    which is removed if anything fails, Ctrl-C included.
    """
    path = Path(path)
    mode = _new_file_mode(path)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        os.chmod(temp_name, mode)  # mkstemp creates 0600; the user expects the usual permissions
        os.replace(temp_name, path)
    except BaseException:
        _remove_quietly(temp_name)
        raise


def _new_file_mode(path: Path, full: int = 0o666) -> int:
    """Permissions for a new file (or, with full=0o777, a folder): those of the one it replaces, else full minus
    the umask."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return full & ~umask


def _remove_quietly(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def check_output_path(
    path: str | os.PathLike, force: bool, input_path: str | os.PathLike | None = None
) -> None:
    """Refuse an output that would clobber the input, a directory, a missing folder or (without force) a file."""
    path = Path(path)
    if input_path is not None and _same_file(path, Path(input_path)):
        raise InrCodecError(f"output {_quote(path)} is the input file; choose another output path")
    if path.is_dir():
        raise InrCodecError(f"output {_quote(path)} is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise InrCodecError(f"cannot write {_quote(path)}: directory {_quote(parent)} does not exist")
    if path.exists() and not force:
        raise InrCodecError(f"{_quote(path)} exists; use --force to overwrite")


def _same_file(a: Path, b: Path) -> bool:
    """True when a and b name the same file (links and relative paths included)."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _quote(path: Path) -> str:
    return repr(str(path))


def _reason(exc: BaseException) -> str:
    """A one-line reason for an exception: strerror for OS errors, else the message (newlines removed)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__
