"""Format 1.2 video files (decoded only since their encoder was removed; the conformance vector stands in for an
encoded clip): random access, the format's checks, the model a file needs; and the CLI on clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inrcodec.model import registry as models
from inrcodec.bitstream.container import write_container
from inrcodec.cli import app
from inrcodec.errors import BitstreamError, InrCodecError
from inrcodec.video.decoder_v1 import decode_frame, decode_video
from inrcodec.video.file import VideoFile, is_video
from inrcodec.media.video import open_video

VECTOR = Path(__file__).resolve().parent.parent / "bitstream" / "vectors" / "video" / "video_24x16_q4.inr"

def moving_clip(folder, frames: int = 5, width: int = 24, height: int = 16):
    """A folder of PNG frames: a gradient with a square moving one pixel a frame over a static background."""
    folder.mkdir()
    y, x = np.mgrid[0:height, 0:width]
    for t in range(frames):
        rgb = np.stack([x * 9 % 256, y * 13 % 256, (x + y) * 5 % 256], -1).astype(np.uint8)
        rgb[4:10, 2 + t : 8 + t] = (250, 40, 40)
        Image.fromarray(rgb).save(folder / f"frame_{t + 1:03d}.png")
    return folder


@pytest.fixture(scope="module")
def encoded():
    """The 1.2 conformance vector: 5 frames of 24x16 in groups of 3."""
    return VECTOR.read_bytes()


def test_random_access_matches_sequential_decoding(encoded):
    frames = list(decode_video(encoded))
    assert len(frames) == 5 and all(f.shape == (16, 24, 3) and f.dtype == np.uint8 for f in frames)
    for index in (0, 2, 3, 4):
        np.testing.assert_array_equal(decode_frame(encoded, index), frames[index])
    with pytest.raises(InrCodecError, match="frames 0..4"):
        decode_frame(encoded, 5)


def test_groups_and_residuals_in_the_file(encoded):
    file = VideoFile.from_bytes(encoded)
    assert file.version == (1, 2) and is_video(encoded)
    assert [g["n_frames"] for g in file.gops] == [3, 2]
    assert file.video["frame_count"] == 5 and file.video["gop_size"] == 3
    assert file.to_bytes() == encoded  # parse and write agree byte for byte


def test_corrupted_and_truncated_files_are_refused(encoded):
    with pytest.raises(BitstreamError):
        VideoFile.from_bytes(encoded[:-9])
    damaged = bytearray(encoded)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(BitstreamError, match="CRC32"):
        list(decode_video(bytes(damaged)))


def test_header_that_does_not_tile_the_clip_is_refused(encoded):
    file = VideoFile.from_bytes(encoded)
    file.video = {**file.video, "frame_count": 6}
    with pytest.raises(BitstreamError, match="groups hold 5 frames"):
        VideoFile.from_bytes(file.to_bytes())


def _install(root, model_id, seed):
    """A freshly initialised (untrained) v1 model saved and registered under root."""
    import torch

    from inrcodec.video.v1.metamodel import MetaConfig, MetaModel

    torch.manual_seed(seed)
    model = MetaModel(MetaConfig())
    weights = models.save_model(root / model_id, model_id, model.to_tensors(), model.config.to_dict())
    models.register_model(root, model_id, weights, model.config.to_dict(), default=True)


def test_decoding_without_the_model_names_it(tmp_path, monkeypatch):
    data = VECTOR.read_bytes()
    _install(tmp_path, "other-model", seed=1)
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path))
    needed = VideoFile.from_bytes(data).model_id
    with pytest.raises(InrCodecError, match=f"needs model '{needed}'.*not installed"):
        next(decode_video(data))


def test_decoding_with_another_model_of_the_same_id_is_refused(tmp_path, monkeypatch):
    data = VECTOR.read_bytes()
    _install(tmp_path, VideoFile.from_bytes(data).model_id, seed=1)
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path))
    with pytest.raises(InrCodecError, match="with sha256 .* but the installed"):
        decode_frame(data, 0)


def _rewritten(edit) -> bytes:
    file = VideoFile.from_bytes(VECTOR.read_bytes())
    edit(file)
    return file.to_bytes()


def test_a_file_whose_config_differs_from_its_model_is_refused():
    data = _rewritten(lambda f: f.field_config.update(mlp_hidden_width=32))
    with pytest.raises(BitstreamError, match="does not match model"):
        next(decode_video(data))


@pytest.mark.parametrize(
    "edit",
    [
        lambda f: f.image.update(width=f.image["width"] + 40),  # pixels beyond the coded extents
        lambda f: f.field_config.update(pixels_per_unit=24),  # coordinates beyond the coded extents
        lambda f: f.levels[3].update(extent_x=f.levels[3]["extent_x"] - 2),  # extent smaller than the pixels need
        lambda f: f.levels[3].update(extent_y=f.levels[3]["extent_y"] + 2),  # larger
    ],
    ids=["width", "pixels_per_unit", "extent-smaller", "extent-larger"],
)
def test_extents_must_match_the_frame_geometry(edit):
    """SPEC-v1 6.3: a dense level's extent is within one vertex of what the pixels read."""
    with pytest.raises(BitstreamError):
        next(decode_video(_rewritten(edit)))


def test_extent_one_short_passes_the_header_check_but_not_the_stream():
    """SPEC-v1 6.3 allows one vertex of slack in the header check, but the same payload read with a smaller extent
    decodes a different number of symbols, which the ANS terminator (SPEC-v1 8.3) catches."""
    data = _rewritten(lambda f: f.levels[3].update(extent_x=f.levels[3]["extent_x"] - 1))
    with pytest.raises(BitstreamError, match="frame 0 is corrupted"):
        next(decode_video(data))


def test_cli_encode_decode_info_and_one_frame(tmp_path):
    clip = moving_clip(tmp_path / "clip", frames=3)
    runner = CliRunner()
    encoded = tmp_path / "clip.inr"
    result = runner.invoke(app, ["encode", str(clip), "-o", str(encoded), "--preset", "fast", "--steps", "2", "--json"])
    assert result.exit_code == 0, result.output
    info = runner.invoke(app, ["info", str(encoded), "--json"])
    assert info.exit_code == 0 and '"kind": "video"' in info.output
    folder = tmp_path / "decoded"
    assert runner.invoke(app, ["decode", str(encoded), "-o", str(folder)]).exit_code == 0
    assert sorted(p.name for p in folder.iterdir()) == ["frame_00001.png", "frame_00002.png", "frame_00003.png"]
    mkv = tmp_path / "decoded.mkv"
    assert runner.invoke(app, ["decode", str(encoded), "-o", str(mkv)]).exit_code == 0
    frames = list(open_video(mkv).frames())
    np.testing.assert_array_equal(frames[2], np.asarray(Image.open(folder / "frame_00003.png")))
    single = tmp_path / "f2.png"
    assert runner.invoke(app, ["decode", str(encoded), "--frame", "2", "-o", str(single)]).exit_code == 0
    np.testing.assert_array_equal(np.asarray(Image.open(single)), frames[2])
    piped = runner.invoke(app, ["decode", "-", "--frame", "2", "-o", "-"], input=encoded.read_bytes())
    assert piped.exit_code == 0 and piped.stdout_bytes == single.read_bytes()
    whole = runner.invoke(app, ["decode", str(encoded), "-o", "-"])
    assert whole.exit_code == 1 and "cannot be written to stdout" in whole.stderr
    import inrcodec

    np.testing.assert_array_equal(inrcodec.decode_frame(encoded, 2), frames[2])
    assert inrcodec.info(encoded)["kind"] == "video"
    missing = runner.invoke(app, ["decode", str(encoded), "--frame", "3", "-o", str(tmp_path / "f3.png")])
    assert missing.exit_code == 1 and "not in the clip" in missing.output and not (tmp_path / "f3.png").exists()



def test_cli_refuses_bad_clips_in_one_line(tmp_path, encoded):
    runner = CliRunner()
    varying = moving_clip(tmp_path / "varying", frames=2)
    Image.fromarray(np.zeros((10, 10, 3), dtype=np.uint8)).save(varying / "frame_009.png")
    out = tmp_path / "v.inr"
    result = runner.invoke(app, ["encode", str(varying), "-o", str(out), "--preset", "fast", "--steps", "1"])
    assert result.exit_code == 1 and "varying size" in result.output and not out.exists()
    assert len(result.output.strip().splitlines()) == 1
    clip = moving_clip(tmp_path / "clip", frames=2)
    for extra, message in ((["--target-bpp", "0.5"], "images only"), (["--model", "none"], "needs a model")):
        result = runner.invoke(app, ["encode", str(clip), "-o", str(out), *extra])
        assert result.exit_code == 1 and message in result.output and not out.exists()
    truncated = tmp_path / "truncated.inr"
    truncated.write_bytes(encoded[: len(encoded) // 2])
    target = tmp_path / "frames"
    result = runner.invoke(app, ["decode", str(truncated), "-o", str(target)])
    assert result.exit_code == 1 and "truncated" in result.output and not target.exists()
    image_file = tmp_path / "image.inr"  # any well-formed container without a VIDH section is an image file
    image_file.write_bytes(write_container([(b"HEAD", b""), (b"DATA", b"")], major=2))
    result = runner.invoke(app, ["decode", str(image_file), "--frame", "0", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 1 and "--frame is for clips" in result.output


def test_cli_encodes_a_y4m_clip_and_refuses_a_corrupted_container(tmp_path):
    from inrcodec.media.video import write_video

    frames = list(open_video(moving_clip(tmp_path / "clip", frames=2)).frames())
    y4m = tmp_path / "clip.y4m"
    write_video(y4m, frames, fps=50)
    runner = CliRunner()
    out = tmp_path / "clip.inr"
    result = runner.invoke(app, ["encode", str(y4m), "-o", str(out), "--preset", "fast", "--steps", "1", "--json"])
    assert result.exit_code == 0, result.output
    from inrcodec.bitstream.video_v2 import parse_video

    assert parse_video(out.read_bytes()).fps == (50, 1)  # the CLI writes format 2.3
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4)
    result = runner.invoke(app, ["encode", str(broken), "-o", str(tmp_path / "b.inr")])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "b.inr").exists()
