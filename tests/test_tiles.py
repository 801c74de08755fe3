"""Tiled files (format 2.2): the tile partition, tiled and untiled coding of the same latents, region decodes
that read only the tiles they need, `crop` (its decode equals the box of the whole decode), and hostile TILE and
HALO sections."""

import struct
import zlib

import numpy as np
import pytest
from typer.testing import CliRunner

import inrcodec
from inrcodec import cli, decoder
from inrcodec.bitstream.container import read_container, write_container
from inrcodec.bitstream.image_v2 import parse_image
from inrcodec.entropy import tiles as tiles_module
from inrcodec.entropy.tiles import TileGrid
from inrcodec.errors import BitstreamError
from inrcodec.model.config import level_shape
from inrcodec.recode import code_latents

HEIGHT, WIDTH = 150, 200


def test_every_vertex_is_in_exactly_one_tile_with_its_own_image_shape():
    grid = TileGrid(HEIGHT, WIDTH, 7, 6, 3)
    assert (grid.rows, grid.columns, grid.count) == (3, 4, 12)
    for level in range(3):
        owners = np.zeros(level_shape(HEIGHT, WIDTH, level), dtype=int)
        for index in range(grid.count):
            rows, cols = grid.vertices(index, level)
            owners[rows, cols] += 1
            ty, tx = divmod(index, grid.columns)
            tile_height, tile_width = min(HEIGHT, (ty + 1) * 64) - ty * 64, min(WIDTH, (tx + 1) * 64) - tx * 64
            assert owners[rows, cols].shape == level_shape(tile_height, tile_width, level)
        assert (owners == 1).all(), level


@pytest.fixture()
def image(v2_model):
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    pixels = np.stack([x, y, (x + y) // 2], axis=-1) + rng.integers(0, 40, size=(HEIGHT, WIDTH, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


@pytest.fixture()
def tiled(image):
    return inrcodec.encode(image, quality=6, steps=1, tile=64).data


def test_tiled_and_untiled_files_hold_the_same_latents_and_pixels(tiled):
    file = parse_image(tiled)
    assert tiled[5] == 2 and file.tiling.tile_log2 == 6 and len(file.tiling.lengths) == 12
    shared = decoder.model_for(file)
    latents = decoder.decode_file_latents(file, shared)
    untiled, _ = code_latents(file, latents, shared.contexts, None)
    data = untiled.to_bytes()
    assert data[5] == 1  # an untiled file is still written as 2.1, for 2.1 decoders
    again = decoder.decode_file_latents(parse_image(data), shared)
    assert all(np.array_equal(a, b) for a, b in zip(latents, again))
    assert np.array_equal(inrcodec.decode(data), inrcodec.decode(tiled))


def test_a_region_decode_reads_only_the_tiles_it_needs(tiled, monkeypatch):
    whole = inrcodec.decode(tiled)
    decoded = []
    original = tiles_module.decode_tiles

    def recording(coarse, streams, *args):
        decoded.append(sorted(streams))
        return original(coarse, streams, *args)

    monkeypatch.setattr(decoder, "decode_tiles", recording)
    region = inrcodec.decode(tiled, region=(70, 70, 40, 30))
    assert np.array_equal(region, whole[70:100, 70:110])
    # the box and its 2 pixels of convolution halo lie inside tile 5 (rows and columns 64..127), and the tiled
    # levels' bilinear support (at most 4 pixels a vertex) stays inside it too; the coarse levels are not tiled
    assert decoded[-1] == [5]
    near_edge = inrcodec.decode(tiled, region=(60, 70, 10, 10))  # crosses the border of tiles 4 and 5
    assert decoded[-1] == [4, 5] and np.array_equal(near_edge, whole[70:80, 60:70])


@pytest.mark.parametrize("box", [(64, 64, 64, 64), (0, 0, 200, 150), (37, 21, 100, 99), (150, 100, 50, 50),
                                 (0, 120, 30, 30)])  # fmt: skip
def test_a_crop_decodes_to_the_same_box_of_the_whole_decode(tiled, box):
    whole = inrcodec.decode(tiled)
    cropped = inrcodec.crop(tiled, box)
    x, y, w, h = box
    assert np.array_equal(inrcodec.decode(cropped), whole[y : y + h, x : x + w])
    header = inrcodec.info(cropped)
    assert header["box"][2:] == [w, h]
    inner = inrcodec.crop(cropped, (1, 2, w - 1, h - 2))  # a crop of a crop
    assert np.array_equal(inrcodec.decode(inner), whole[y + 2 : y + h, x + 1 : x + w])


def test_a_small_crop_is_a_small_file(tiled):
    assert len(inrcodec.crop(tiled, (0, 0, 64, 64))) < 0.5 * len(tiled)


def test_an_untiled_file_is_cropped_by_re_coding_it_in_tiles(image):
    untiled = inrcodec.encode(image, quality=6, steps=1, tile=0).data
    assert parse_image(untiled).tiling is None
    cropped = inrcodec.crop(untiled, (10, 20, 100, 60))
    assert np.array_equal(inrcodec.decode(cropped), inrcodec.decode(untiled)[20:80, 10:110])


@pytest.mark.parametrize("box, words", [((0, 0, 0, 5), "empty"), ((190, 0, 20, 5), "not inside"),
                                        ((-1, 0, 5, 5), "not inside")])  # fmt: skip
def test_bad_boxes(tiled, box, words):
    with pytest.raises(inrcodec.InrCodecError, match=words):
        inrcodec.crop(tiled, box)


def test_the_cli_crops_and_refuses_bad_boxes_in_one_line(tiled, tmp_path, v2_model):
    source, out = tmp_path / "a.inr", tmp_path / "c.inr"
    source.write_bytes(tiled)
    runner = CliRunner()
    result = runner.invoke(cli.app, ["crop", str(source), "--box", "10,10,50,40", "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == inrcodec.crop(tiled, (10, 10, 50, 40))
    for box, words in (("10,10,500,40", "not inside"), ("1,2,3", "x,y,w,h")):
        bad = runner.invoke(cli.app, ["crop", str(source), "--box", box, "-o", str(tmp_path / "bad.inr")])
        lines = bad.stderr.strip().splitlines()
        assert bad.exit_code == 1 and len(lines) == 1 and words in lines[0] and not (tmp_path / "bad.inr").exists()
    bad_tile = runner.invoke(cli.app, ["encode", str(source), "-o", str(tmp_path / "t.inr"), "--tile", "100"])
    assert bad_tile.exit_code == 1


def sections_of(data: bytes) -> list[tuple[bytes, bytes]]:
    _, sections = read_container(data, {b"HEAD", b"MODU", b"TILE", b"HALO", b"DATA"})
    order = [b"HEAD", b"MODU", b"TILE", b"HALO", b"DATA"]
    return [(tag, sections[tag]) for tag in order if tag in sections]


def rebuilt(data: bytes, minor: int = 2, **changes) -> bytes:
    return write_container([(tag, changes.get(tag.decode(), payload)) for tag, payload in sections_of(data)],
                           major=2, minor=minor)  # fmt: skip


def test_hostile_tile_and_halo_sections_are_refused(tiled):
    sections = dict(sections_of(tiled))
    tile = sections[b"TILE"]
    head, lengths = tile[:26], list(struct.unpack(f"<{len(tile[26:]) // 4}I", tile[26:]))
    coarse_length = struct.unpack_from("<I", tile, 18)[0]
    cropped = inrcodec.crop(tiled, (30, 30, 60, 60))
    halo = dict(sections_of(cropped))[b"HALO"]
    cases = {
        "came with 2.2": rebuilt(tiled, minor=1),
        "tiles of 64 pixels cover": rebuilt(tiled, TILE=head[:22] + struct.pack("<I", 11) + tile[26:]),
        "add up to": rebuilt(tiled, TILE=head + struct.pack(f"<{len(lengths)}I", *[lengths[0] + 4] + lengths[1:])),
        "multiple of 4": rebuilt(tiled, TILE=head + struct.pack(f"<{len(lengths)}I", *[lengths[0] + 1] + lengths[1:])),
        "tile_log2": rebuilt(tiled, TILE=bytes([3]) + tile[1:]),
        "tiled_levels": rebuilt(tiled, TILE=tile[:1] + bytes([7]) + tile[2:]),
        "coarse levels' stream length": rebuilt(tiled, TILE=tile[:18] + struct.pack("<I", 6) + tile[22:]),
        "canvas": rebuilt(tiled, TILE=tile[:2] + struct.pack("<IIII", 190, 0, 20, 10) + tile[18:]),
        "every tile is absent": rebuilt(tiled, TILE=head + bytes(4 * len(lengths)),
                                        DATA=sections[b"DATA"][:coarse_length]),
        "without a 'TILE'": write_container([(b"HEAD", dict(sections_of(tiled))[b"HEAD"]), (b"HALO", halo),
                                             (b"DATA", b"\0" * 8)], major=2, minor=2),  # fmt: skip
        "exactly": rebuilt(cropped, HALO=halo[:5] + zlib.compress(b"\0" * 3)),
        "zlib": rebuilt(cropped, HALO=halo[:5] + b"not zlib"),
        "more than the canvas": rebuilt(cropped, HALO=halo[:1] + struct.pack("<I", 1 << 31) + halo[5:]),
    }
    for words, data in cases.items():
        with pytest.raises(BitstreamError, match=words):
            inrcodec.decode(data)
    bomb = halo[:1] + struct.pack("<I", 10) + zlib.compress(bytes(1 << 24))  # 16 MiB of zeros for 10 values
    with pytest.raises(BitstreamError, match="exactly"):
        inrcodec.decode(rebuilt(cropped, HALO=bomb))
    fewer = halo[:1] + struct.pack("<I", 1) + zlib.compress(b"\0\0")
    with pytest.raises(BitstreamError, match="the box reads"):
        inrcodec.decode(rebuilt(cropped, HALO=fewer))
    narrow = bytes([1]) + halo[1:]
    with pytest.raises(BitstreamError, match="margin"):
        inrcodec.decode(rebuilt(cropped, HALO=narrow))


def test_info_describes_tiles(tiled):
    header = inrcodec.info(tiled)
    assert (header["format_version"], header["tile_side"], header["tiles"]) == ("2.2", 64, 12)
    assert header["box"] == [0, 0, WIDTH, HEIGHT]


def test_the_default_tiles_only_large_images():
    from inrcodec.api import tile_log2_for
    from inrcodec.recode import default_tile_log2

    assert default_tile_log2(768, 512) is None and default_tile_log2(2048, 2049) == 8
    assert tile_log2_for(None, np.zeros((512, 768, 3), np.uint8)) is None
    assert tile_log2_for(0) is None and tile_log2_for(128) == 7
    for bad in (100, 32, 1 << 15, -64):
        with pytest.raises(inrcodec.InrCodecError, match="power of two"):
            tile_log2_for(bad)
