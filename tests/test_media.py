"""Tests of inrcodec.media.images: which images read_image accepts (as 8-bit RGB) and refuses, atomic writes, and
the checks on output paths."""

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from inrcodec.media import files as media_files, images as media
from inrcodec.errors import InrCodecError
from inrcodec.media.files import atomic_write_bytes, check_output_path
from inrcodec.media.images import read_image, write_image

SIZE = (6, 4)  # width, height


def saved(tmp_path, image: Image.Image, name: str = "image.png", **save_args) -> str:
    path = tmp_path / name
    image.save(path, **save_args)
    return path


def png_16_bit_rgb(width: int, height: int) -> bytes:
    """A valid 16-bit RGB PNG, which Pillow opens in mode "RGB" and can neither write nor flag by mode."""

    def chunk(tag: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))

    rows = b"".join(b"\0" + bytes(width * 6) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# ---- accepted modes ----


def test_rgb_is_read_as_is(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    rgb = read_image(saved(tmp_path, Image.fromarray(pixels)))
    assert rgb.dtype == np.uint8 and rgb.flags.writeable
    np.testing.assert_array_equal(rgb, pixels)


def test_greyscale_becomes_rgb(tmp_path):
    grey = np.arange(SIZE[0] * SIZE[1], dtype=np.uint8).reshape(SIZE[1], SIZE[0]) * 10
    rgb = read_image(saved(tmp_path, Image.fromarray(grey, "L")))
    assert rgb.shape == (SIZE[1], SIZE[0], 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], grey)


def test_palette_becomes_rgb(tmp_path):
    image = Image.new("P", SIZE)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.putpixel((1, 2), 1)
    rgb = read_image(saved(tmp_path, image))
    assert rgb.shape == (SIZE[1], SIZE[0], 3)
    assert tuple(rgb[0, 0]) == (255, 0, 0) and tuple(rgb[2, 1]) == (0, 0, 255)


def test_bilevel_becomes_rgb(tmp_path):
    rgb = read_image(saved(tmp_path, Image.new("1", SIZE, 1)))
    assert rgb.shape == (SIZE[1], SIZE[0], 3) and (rgb == 255).all()


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees to display
    rgb = read_image(saved(tmp_path, Image.new("RGB", SIZE), exif=exif))
    assert rgb.shape == (SIZE[0], SIZE[1], 3)


# ---- refused images ----


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_channel_is_refused(tmp_path, mode):
    with pytest.raises(InrCodecError, match="alpha.*flatten"):
        read_image(saved(tmp_path, Image.new(mode, SIZE)))


def test_palette_with_alpha_is_refused(tmp_path, monkeypatch):
    # Pillow cannot write mode PA to a file, so Image.open hands one over directly.
    path = saved(tmp_path, Image.new("RGB", SIZE))
    monkeypatch.setattr(media.Image, "open", lambda *args, **kwargs: Image.new("PA", SIZE))
    with pytest.raises(InrCodecError, match="alpha"):
        read_image(path)


def test_palette_with_transparency_is_refused(tmp_path):
    with pytest.raises(InrCodecError, match="transparency"):
        read_image(saved(tmp_path, Image.new("P", SIZE), transparency=0))


def test_rgb_with_transparent_colour_is_refused(tmp_path):
    with pytest.raises(InrCodecError, match="transparency"):
        read_image(saved(tmp_path, Image.new("RGB", SIZE), transparency=(0, 0, 0)))


def test_16_bit_greyscale_is_refused(tmp_path):
    path = saved(tmp_path, Image.fromarray(np.full((SIZE[1], SIZE[0]), 1000, dtype=np.uint16)))
    with pytest.raises(InrCodecError, match="16-bit samples are not supported; convert to 8-bit"):
        read_image(path)


def test_16_bit_rgb_png_is_refused(tmp_path):
    path = tmp_path / "deep.png"
    path.write_bytes(png_16_bit_rgb(*SIZE))
    assert Image.open(path).mode == "RGB"  # why the mode alone cannot catch it
    with pytest.raises(InrCodecError, match="16-bit"):
        read_image(path)


@pytest.mark.parametrize("mode", ["I", "F"])
def test_high_depth_modes_are_refused(tmp_path, mode):
    with pytest.raises(InrCodecError, match="convert to 8-bit"):
        read_image(saved(tmp_path, Image.new(mode, SIZE), "deep.tif"))


def test_animation_is_refused(tmp_path):
    frames = [Image.new("RGB", SIZE, colour) for colour in ((255, 0, 0), (0, 255, 0))]
    path = saved(tmp_path, frames[0], "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(InrCodecError, match="animated"):
        read_image(path)


def test_zero_size_image_is_refused(tmp_path, monkeypatch):
    # Pillow cannot write a 0x0 PNG, so hand read_image an empty image from Image.open instead.
    path = saved(tmp_path, Image.new("RGB", SIZE))
    monkeypatch.setattr(media.Image, "open", lambda *args, **kwargs: Image.new("RGB", (0, 0)))
    with pytest.raises(InrCodecError, match=r"empty \(0x0 pixels\)"):
        read_image(path)


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = saved(tmp_path, Image.new("RGB", SIZE))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2)
    with pytest.raises(InrCodecError, match="too large"):
        read_image(path)


def test_truncated_png_is_refused(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    path = saved(tmp_path, Image.fromarray(pixels))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(InrCodecError, match="image.png"):
        read_image(path)


def test_missing_file_and_directory_are_named(tmp_path):
    with pytest.raises(InrCodecError, match="nope.png.*does not exist"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(InrCodecError, match="is a directory"):
        read_image(tmp_path)


# ---- writing ----


def test_write_image_round_trip_and_format_from_extension(tmp_path):
    pixels = np.random.default_rng(2).integers(0, 256, (SIZE[1], SIZE[0], 3), dtype=np.uint8)
    write_image(tmp_path / "out.png", pixels)
    np.testing.assert_array_equal(read_image(tmp_path / "out.png"), pixels)
    write_image(tmp_path / "out.bmp", pixels)
    assert Image.open(tmp_path / "out.bmp").format == "BMP"
    with pytest.raises(InrCodecError, match="extension"):
        write_image(tmp_path / "out.xyz", pixels)
    assert sorted(os.listdir(tmp_path)) == ["out.bmp", "out.png"]


def test_atomic_write_keeps_the_old_file_and_no_temp_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "file.inr"
    target.write_bytes(b"old")

    def failing_replace(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(media_files.os, "replace", failing_replace)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["file.inr"]


def test_atomic_write_replaces_and_uses_normal_permissions(tmp_path):
    target = tmp_path / "file.inr"
    atomic_write_bytes(target, b"first")
    atomic_write_bytes(target, b"second")
    assert target.read_bytes() == b"second"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["file.inr"]


# ---- output paths ----


def test_check_output_path(tmp_path):
    existing = tmp_path / "exists.inr"
    existing.write_bytes(b"x")
    check_output_path(tmp_path / "new.inr", force=False)
    check_output_path(existing, force=True)
    with pytest.raises(InrCodecError, match="exists; use --force to overwrite"):
        check_output_path(existing, force=False)
    with pytest.raises(InrCodecError, match="is the input"):
        check_output_path(existing, force=True, input_path=tmp_path / "." / "exists.inr")
    with pytest.raises(InrCodecError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "out.inr", force=True)
    with pytest.raises(InrCodecError, match="is a directory"):
        check_output_path(tmp_path, force=True)
