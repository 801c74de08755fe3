"""Tests of `inrcodec rd-curve --video` (rdvideo.py, rdvideoresults.py, yuv.py): the BT.601 conversion, PSNR-YUV,
x264 rows from real packets, the results files, resume, refused inputs and the CLI. Clips are 32x24, 3 frames;
inrcodec's codecs are replaced by fakes of the same API here (a real one runs in the slow test at the end)."""

import hashlib
import json
import sys
import types
import zlib
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inrcodec import cli

from inrcodec.rd import video as rdvideo

from inrcodec.rd import video_report as rdvideoresults

from inrcodec.media import yuv
from inrcodec.errors import InrCodecError
from inrcodec.metrics import psnr
from inrcodec.media.video import open_video

WIDTH, HEIGHT, FRAMES = 32, 24, 3


def frames(count: int = FRAMES, width: int = WIDTH, height: int = HEIGHT) -> list[np.ndarray]:
    """A moving colour gradient with a little fixed noise."""
    y, x = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(0).integers(0, 24, (count, height, width, 3))
    return [np.clip(np.stack([x * 7 + t * 9, y * 9 + t * 5, (x + y) * 4 + 40], -1) + noise[t], 0, 255).astype(np.uint8)
            for t in range(count)]


def write_clip(folder, count: int = FRAMES, width: int = WIDTH, height: int = HEIGHT):
    folder.mkdir()
    for index, rgb in enumerate(frames(count, width, height)):
        Image.fromarray(rgb).save(folder / f"frame_{index + 1}.png")
    return folder


@pytest.fixture()
def clip_dir(tmp_path):
    return write_clip(tmp_path / "moving")


# ---- fakes of inrcodec's codecs: same API, lossy by quantisation, zlib for the bytes ----


def _quantise(rgb: np.ndarray, quality: int) -> np.ndarray:
    step = 2 * (9 - quality)
    return np.clip(rgb.astype(int) // step * step + step // 2, 0, 255).astype(np.uint8)


def _fake_video_modules() -> tuple[types.ModuleType, types.ModuleType]:
    encoder, decoder = types.ModuleType("inrcodec.video.clip_v2"), types.ModuleType("inrcodec.video_decoder")

    def encode_clip_v2(source, quality, preset, model="default", progress=None):
        raw = b"".join(_quantise(rgb, quality).tobytes() for rgb in open_video(source).frames())
        data = zlib.compress(raw, 9)
        return types.SimpleNamespace(data=data, stats={"bytes": len(data), "encode_seconds": 0.25})

    class VideoDecoder:
        def __init__(self, data):
            raw, size = zlib.decompress(data), WIDTH * HEIGHT * 3
            self.decoded = [np.frombuffer(raw[a:a + size], np.uint8).reshape(HEIGHT, WIDTH, 3)
                            for a in range(0, len(raw), size)]  # fmt: skip

        def frames(self):  # not in display order, as a B-frame structure codes them
            return reversed(list(enumerate(self.decoded)))

        def frame(self, index):
            return self.decoded[index]

    encoder.encode_clip_v2, decoder.VideoDecoder = encode_clip_v2, VideoDecoder
    return encoder, decoder


@pytest.fixture()
def fake_inrcodec(monkeypatch):
    """inrcodec's video v2 pipeline and decoder and the image API (inrcodec.api) replaced by fakes; the codecs'
    config without torch or models."""
    import inrcodec.api
    import inrcodec.video

    encoder, decoder = _fake_video_modules()
    monkeypatch.setattr(inrcodec.api, "encode_image", lambda rgb, quality, preset, model: types.SimpleNamespace(
        data=zlib.compress(_quantise(rgb, quality).tobytes()), stats={}))
    monkeypatch.setattr(inrcodec.api, "decode_image",
                        lambda data: np.frombuffer(zlib.decompress(data), np.uint8).reshape(HEIGHT, WIDTH, 3))
    monkeypatch.setitem(sys.modules, "inrcodec.video.clip_v2", encoder)
    monkeypatch.setattr(inrcodec.video, "clip_v2", encoder, raising=False)
    monkeypatch.setitem(sys.modules, "inrcodec.video_decoder", decoder)
    monkeypatch.setattr(inrcodec, "video_decoder", decoder, raising=False)
    monkeypatch.setattr(rdvideo.InrCodec, "config", lambda self: {"codec": self.name, "preset": self.preset})
    return encoder


# ---- colour conversion ----


@pytest.mark.parametrize("rgb, expected", [
    ((255, 255, 255), (235, 128, 128)), ((0, 0, 0), (16, 128, 128)), ((128, 128, 128), (126, 128, 128)),
    ((255, 0, 0), (81, 90, 240)), ((0, 255, 0), (145, 54, 34)), ((0, 0, 255), (41, 240, 110)),
])
def test_bt601_limited_range_values(rgb, expected):
    """Hand-computed: Y = 16 + 219 E / 255, Cb = 128 + 224 (B - E) / (1.772 * 255), Cr likewise with 1.402."""
    planes = yuv.rgb_to_yuv420(np.full((4, 6, 3), rgb, np.uint8))
    assert planes.y.shape == (4, 6) and planes.u.shape == planes.v.shape == (2, 3)
    assert (planes.y[0, 0], planes.u[0, 0], planes.v[0, 0]) == expected
    assert np.abs(yuv.yuv420_to_rgb(planes).astype(int) - rgb).max() <= 1


def test_round_trip_within_two_levels_and_chroma_is_a_2x2_mean():
    y, x = np.mgrid[0:24, 0:32]
    # Constant chroma (grey ramp + a fixed tint): only rounding is lost.
    tinted = np.clip(np.stack([x * 6 + 20, x * 6, x * 6 + 10], -1), 0, 255).astype(np.uint8)
    assert np.abs(yuv.yuv420_to_rgb(yuv.rgb_to_yuv420(tinted)).astype(int) - tinted).max() <= 1
    # A gentle colour gradient, odd size included: bilinear chroma is exact up to rounding inside, close at edges.
    smooth = np.clip(np.stack([x * 2 + 50, y * 2 + 60, (x + y) + 70], -1), 0, 255).astype(np.uint8)
    for image in (smooth, smooth[:23, :31]):
        planes = yuv.rgb_to_yuv420(image)
        assert planes.u.shape == ((image.shape[0] + 1) // 2, (image.shape[1] + 1) // 2)
        assert np.abs(yuv.yuv420_to_rgb(planes).astype(int) - image).max() <= 2
    block = np.zeros((2, 2, 3), np.uint8)
    block[0, 0] = (255, 0, 0)  # one red pixel of four: Cr = mean(240, 128, 128, 128) = 156
    assert yuv.rgb_to_yuv420(block).v[0, 0] == 156


def test_planes_pack_as_pyav_expects():
    planes = yuv.rgb_to_yuv420(frames(1)[0])
    frame = av.VideoFrame.from_ndarray(yuv.pack_yuv420p(planes), format="yuv420p")
    assert [(p.width, p.height) for p in frame.planes] == [(32, 24), (16, 12), (16, 12)]
    back = yuv.unpack_yuv420p(frame.to_ndarray(), HEIGHT, WIDTH)
    assert all(np.array_equal(a, b) for a, b in zip(back, planes))


def test_psnr_yuv_weights_y_six_to_one():
    reference = yuv.rgb_to_yuv420(frames(1)[0])
    y = reference.y.copy()
    y[::2] = np.clip(y[::2].astype(int) + 4, 0, 255).astype(np.uint8)  # MSE 8 on Y
    u = reference.u ^ 1  # MSE 1 on U
    decoded = yuv.Yuv420(y, u, reference.v.copy())
    total, py, pu, pv = yuv.psnr_yuv(reference, decoded)
    assert py == pytest.approx(10 * np.log10(255**2 / 8)) and pu == pytest.approx(10 * np.log10(255**2))
    assert pv == float("inf") and total == float("inf")
    total, py, pu, pv = yuv.psnr_yuv(reference, yuv.Yuv420(y, u, u))
    assert total == pytest.approx((6 * py + pu + pv) / 8)


# ---- measuring ----


def independent_x264_bytes(clip_frames, crf: int) -> int:
    """libx264 through PyAV as documented (medium, yuv420p, 1 thread), written here independently."""
    context = av.CodecContext.create("libx264", "w")
    context.width, context.height, context.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    context.time_base, context.framerate, context.thread_count = Fraction(1, 25), Fraction(25), 1
    context.options = {"crf": str(crf), "preset": "medium"}
    total = 0
    for index, rgb in enumerate(clip_frames + [None]):
        frame = None
        if rgb is not None:
            frame = av.VideoFrame.from_ndarray(yuv.pack_yuv420p(yuv.rgb_to_yuv420(rgb)), format="yuv420p")
            frame.pts = index
        total += sum(packet.size for packet in context.encode(frame))
    return total


def test_x264_with_inrcodecs_keyframe_interval_pays_for_its_keyframes(tmp_path):
    clip = rdvideo.open_clip(write_clip(tmp_path / "long", count=24))
    plain, grouped = rdvideo.video_codecs(["x264", "x264-gop16"], (), "fast", "fast", None)
    assert grouped.config()["options"] == {"x264-params": "keyint=16:min-keyint=16:scenecut=0"}
    assert grouped.measure(clip, 30)["bytes"] > plain.measure(clip, 30)["bytes"]  # frame 16 is an I-frame


def test_x264_rows_come_from_the_packets_and_crf_orders_the_rate(clip_dir):
    clip = rdvideo.open_clip(clip_dir)
    assert (clip.width, clip.height, clip.frames, clip.fps) == (WIDTH, HEIGHT, FRAMES, None)
    x264 = rdvideo.video_codecs(["x264"], (), "fast", "fast", None)[0]
    fine, coarse = x264.measure(clip, 18), x264.measure(clip, 42)
    for row, crf in ((fine, 18), (coarse, 42)):
        assert row["bytes"] == independent_x264_bytes(frames(), crf)
        assert row["bpp"] == row["bytes"] * 8 / (WIDTH * HEIGHT * FRAMES)
        assert row["frames"] == FRAMES and len(row["sha256"]) == 64
        assert row["encoding_time"] > 0 and row["decoding_time"] > 0
        assert row["encoding_time_per_frame"] == pytest.approx(row["encoding_time"] / FRAMES)
    assert coarse["bytes"] < fine["bytes"] and coarse["psnr_rgb"] < fine["psnr_rgb"] < 60
    assert coarse["psnr_yuv"] < fine["psnr_yuv"]
    assert fine["psnr_yuv"] == pytest.approx((6 * fine["psnr_y"] + fine["psnr_u"] + fine["psnr_v"]) / 8)


def test_fake_inrcodec_rows_measure_bytes_and_frames(clip_dir, fake_inrcodec):
    clip = rdvideo.open_clip(clip_dir)
    video, image = rdvideo.video_codecs(["inrcodec", "inrcodec-image"], (3,), "fast", "fast", "default")
    row = video.measure(clip, 3)
    data = fake_inrcodec.encode_clip_v2(clip_dir, 3, "fast").data
    assert row["bytes"] == len(data) and row["sha256"] == hashlib.sha256(data).hexdigest()
    expected = [psnr(a, _quantise(a, 3)) for a in frames()]
    assert row["psnr_rgb"] == pytest.approx(np.mean(expected))
    assert row["frame_decode_matches"] is True and row["frame_decoding_time_last"] > 0
    assert row["encoding_time"] == 0.25  # the encoder's own encode_seconds, not the call with its check decode
    frame_row = image.measure(clip, 3)
    assert frame_row["bytes"] == sum(len(zlib.compress(_quantise(a, 3).tobytes())) for a in frames())
    assert frame_row["psnr_rgb"] == pytest.approx(row["psnr_rgb"])


def test_run_writes_results_report_and_plot_then_resumes(clip_dir, tmp_path, fake_inrcodec):
    clip, out = rdvideo.open_clip(clip_dir), tmp_path / "out"
    codecs = rdvideo.video_codecs(["inrcodec", "x264"], (1, 5, 8), "fast", "fast", "default")
    measured = []
    summaries = rdvideo.run(clip, codecs, out, command="test", on_row=lambda name, row: measured.append(name))
    assert measured == ["x264"] * len(rdvideo.CRFS) + ["inrcodec"] * 3
    document = json.loads((out / "x264.json").read_text())
    assert document == summaries["x264"] and document["name"] == "x264"
    assert {"quality", "bpp", "psnr-rgb", "psnr-yuv", "encoding_time", "decoding_time"} <= set(document["results"])
    assert document["results"]["quality"] == list(rdvideo.CRFS)
    meta = document["meta"]
    assert meta["frames"] == FRAMES and meta["fps"] is None and "BT.601 limited" in meta["colour"]
    assert meta["config"]["threads"] == 1 and meta["hardware"] and meta["date"] and meta["command"] == "test"
    assert "elementary stream" in meta["notes"] and "frame_decoding_time_last" in summaries["inrcodec"]["results"]
    assert len((out / "x264.csv").read_text().splitlines()) == 1 + len(rdvideo.CRFS)
    rows, written = rdvideoresults.report(out, clip, {"command": "test"})
    assert {(row["reference"], row["metric"]) for row in rows} == {("x264", "psnr-rgb"), ("x264", "psnr-yuv")}
    assert all(row["bd_rate_percent"] is not None or row["note"] for row in rows)
    assert {p.name for p in written} == {"bd_rates.md", "bd_rates.json", "rd.png", "rd.svg"}
    assert "| H.264 (x264 medium, CRF) |" in (out / "bd_rates.md").read_text()

    counts, again, first_csv = {}, [], (out / "x264.csv").read_text()
    rdvideo.run(clip, codecs, out, on_start=counts.update, on_row=lambda name, row: again.append(name))
    assert again == [] and counts == {"x264": (7, 7), "inrcodec": (3, 3)}
    assert (out / "x264.csv").read_text() == first_csv
    assert [run["rows_measured"] for run in json.loads((out / "x264.json").read_text())["meta"]["runs"]] == [7]

    other_preset = rdvideo.video_codecs(["inrcodec"], (1,), "medium", "fast", "default")
    with pytest.raises(InrCodecError, match="another config.*--fresh"):
        rdvideo.run(clip, other_preset, out)
    rdvideo.run(clip, other_preset, out, fresh=True)
    assert json.loads((out / "inrcodec.json").read_text())["results"]["quality"] == [1]


@pytest.mark.parametrize("make, match", [
    (lambda tmp: tmp / "nowhere", "does not exist"),
    (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "no image files"),
    (lambda tmp: (tmp / "none.y4m").write_bytes(b"YUV4MPEG2 W32 H24 F25:1 Ip A1:1 C420jpeg\n") and tmp / "none.y4m",
     "no"),
])
def test_unreadable_clips_are_refused(tmp_path, make, match):
    with pytest.raises(InrCodecError, match=match):
        rdvideo.open_clip(make(tmp_path))


def test_unknown_codec_odd_sizes_and_no_model_are_refused(tmp_path, clip_dir):
    with pytest.raises(InrCodecError, match="unknown video codec 'vp9'"):
        rdvideo.video_codecs(["x264", "vp9"], (1,), "fast", "fast", None)
    with pytest.raises(InrCodecError, match="needs a model"):
        rdvideo.run(rdvideo.open_clip(clip_dir), rdvideo.video_codecs(["inrcodec"], (1,), "fast", "fast", None),
                    tmp_path / "out")
    odd = rdvideo.open_clip(write_clip(tmp_path / "odd", 2, 31, 24))
    with pytest.raises(InrCodecError, match="even width and height.*31x24"):
        rdvideo.run(odd, rdvideo.video_codecs(["x264"], (), "fast", "fast", None), tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ---- the command line ----


def invoke(*args):
    return CliRunner().invoke(cli.app, ["rd-curve", *map(str, args)])


def test_cli_video_run_with_x264(clip_dir, tmp_path):
    out = tmp_path / "results"
    result = invoke("--video", clip_dir, "--codecs", "x264", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["frames"] == FRAMES and set(summary["curves"]) == {"x264"} and summary["bd_rates"] == []
    assert len(summary["curves"]["x264"]["bpp"]) == len(rdvideo.CRFS)
    assert result.stderr.count("x264 [") == len(rdvideo.CRFS)  # one line per row when not a terminal
    for name in ("x264.json", "x264.csv", "bd_rates.md", "bd_rates.json", "rd.png", "rd.svg"):
        assert (out / name).is_file(), name
    again = invoke("--video", clip_dir, "--codecs", "x264", "--out", out)
    assert again.exit_code == 0 and "already measured" in again.stderr and "results in" in again.stdout


@pytest.mark.parametrize("args, words", [
    (("--dataset", "kodak"), "cannot be combined with --dataset"),
    (("--codecs", "x264,av1"), "unknown video codec 'av1'"),
    (("--quality", "0"), "quality '0'"),
    (("--preset", "fast,slow"), "one --preset"),
])
def test_cli_video_mistakes_end_in_one_error_line(clip_dir, tmp_path, args, words):
    result = invoke("--video", clip_dir, "--out", tmp_path / "out", *args)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0]
    assert "Traceback" not in result.output


def test_cli_missing_clip(tmp_path):
    result = invoke("--video", tmp_path / "nowhere.y4m", "--codecs", "x264", "--out", tmp_path / "out")
    assert result.exit_code == 1 and result.stderr.startswith("error: ") and "does not exist" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_real_video_codec_on_a_tiny_clip(clip_dir, tmp_path):
    clip = rdvideo.open_clip(clip_dir)
    summary = rdvideo.run(clip, rdvideo.video_codecs(["inrcodec"], (1,), "fast", "fast", "default"), tmp_path)
    [row] = rdvideoresults.read_rows(tmp_path / "inrcodec.csv")
    assert row["frames"] == FRAMES and row["bytes"] > 0 and 15 < row["psnr_rgb"] < 60
    assert row["frame_decode_matches"] is True and row["frame_decoding_time_last"] > 0
    config = summary["inrcodec"]["meta"]["config"]
    assert config["model"]["id"] and config["group"] >= 1 and config["api"] == "video.clip_v2.encode_clip_v2"
