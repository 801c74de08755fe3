"""Tests of inrcodec.media.video: round trips through every writer, reading files PyAV wrote directly, natural order
of frame folders, and every input and output refused with a one-line InrCodecError and nothing left behind."""

import inspect
import os
from fractions import Fraction

import av
import numpy as np
import pytest

from inrcodec.errors import InrCodecError
from inrcodec.media.video import VideoInfo, open_video, write_video

WIDTH, HEIGHT, COUNT = 32, 24, 5
NTSC = Fraction(30000, 1001)


def has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:
        return False
    return True


needs_libx264rgb = pytest.mark.skipif(not has_encoder("libx264rgb"), reason="this FFmpeg has no libx264rgb")
needs_libx264 = pytest.mark.skipif(not has_encoder("libx264"), reason="this FFmpeg has no libx264")


def clip(count: int = COUNT, width: int = WIDTH, height: int = HEIGHT) -> list[np.ndarray]:
    """Moving colour gradients plus a little fixed noise, so that a bit-exact round trip means something."""
    y, x = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(0).integers(0, 8, (count, height, width, 3))
    frames = []
    for t in range(count):
        rgb = np.stack([x * 7 + t * 11, y * 9 + t * 5, (x + y) * 4 + t * 23], axis=-1) + noise[t]
        frames.append((rgb % 256).astype(np.uint8))
    return frames


def read_all(path) -> tuple[VideoInfo, list[np.ndarray]]:
    reader = open_video(path)
    return reader.info, list(reader.frames())


def pyav_write(path, container_format, codec, pixel_format, frames, rate=Fraction(25), **open_args):
    """Write a clip with PyAV directly, converting RGB with swscale's defaults."""
    with av.open(str(path), "w", format=container_format, **open_args) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = pixel_format
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pixel_format)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def refused(match: str):
    return pytest.raises(InrCodecError, match=match)


def one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


# ---- round trips ----


def test_ffv1_mkv_round_trip_is_bit_exact(tmp_path):
    path = tmp_path / "clip.mkv"
    assert write_video(path, iter(clip()), NTSC) == COUNT
    info, frames = read_all(path)
    assert info == VideoInfo(WIDTH, HEIGHT, None, NTSC, "container", "bgr0")  # Matroska records no frame count
    assert len(frames) == COUNT
    for got, want in zip(frames, clip()):
        assert got.dtype == np.uint8 and got.shape == (HEIGHT, WIDTH, 3)
        np.testing.assert_array_equal(got, want)


def test_png_folder_round_trip_is_bit_exact(tmp_path):
    path = tmp_path / "frames"
    assert write_video(path, clip(), None) == COUNT
    assert sorted(os.listdir(path)) == [f"frame_{i:05d}.png" for i in range(1, COUNT + 1)]
    info, frames = read_all(path)
    assert info == VideoInfo(WIDTH, HEIGHT, COUNT, None, "frames", "rgb24")
    for got, want in zip(frames, clip(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_png_folder_may_be_an_existing_empty_folder(tmp_path):
    path = tmp_path / "frames"
    path.mkdir()
    assert write_video(path, clip(2), None) == 2
    assert sorted(os.listdir(path)) == ["frame_00001.png", "frame_00002.png"]


@needs_libx264rgb
def test_mp4_round_trip_is_bit_exact(tmp_path):
    path = tmp_path / "clip.mp4"
    assert write_video(path, clip(), Fraction(24)) == COUNT
    info, frames = read_all(path)
    # H.264 RGB decodes as planar gbrp; MP4 records the frame count.
    assert info == VideoInfo(WIDTH, HEIGHT, COUNT, Fraction(24), "container", "gbrp")
    for got, want in zip(frames, clip(), strict=True):
        np.testing.assert_array_equal(got, want)


def test_y4m_round_trip_is_within_two_levels(tmp_path):
    # 8-bit yuv444p, BT.601 limited: Y is rounded to 1/219 and Cb, Cr to 1/224 of full scale; through the inverse
    # matrix (coefficients up to 1.772) that is at most about 1.6 levels of R, G or B, plus rounding to 8 bits:
    # at most 2. Over 65,536 random pixels swscale's conversion reaches 2 and never 3.
    path = tmp_path / "clip.y4m"
    assert write_video(path, clip(), NTSC) == COUNT
    header = path.read_bytes().split(b"\n", 1)[0].split()
    assert header[0] == b"YUV4MPEG2" and b"F30000:1001" in header and b"C444" in header
    assert b"XCOLORRANGE=LIMITED" in header
    info, frames = read_all(path)
    assert info == VideoInfo(WIDTH, HEIGHT, COUNT, NTSC, "y4m", "yuv444p")
    for got, want in zip(frames, clip(), strict=True):
        error = np.abs(got.astype(int) - want)
        assert error.max() <= 2 and error.mean() < 0.6


def test_fps_defaults_to_25_and_floats_are_accepted(tmp_path):
    write_video(tmp_path / "default.y4m", clip(1), None)
    write_video(tmp_path / "ntsc.y4m", clip(1), 30000 / 1001)
    assert b" F25:1 " in (tmp_path / "default.y4m").read_bytes()[:80]
    assert open_video(tmp_path / "ntsc.y4m").info.fps == NTSC


@needs_libx264
def test_lossy_writes_are_yuv420p_and_close(tmp_path):
    for name in ("lossy.mp4", "lossy.mkv", "lossy.y4m"):
        assert write_video(tmp_path / name, clip(), None, lossless=False) == COUNT
        info, frames = read_all(tmp_path / name)
        assert info.pixel_format == "yuv420p" and info.fps == 25
        mse = np.mean([(got.astype(float) - want) ** 2 for got, want in zip(frames, clip(), strict=True)])
        assert 10 * np.log10(255**2 / mse) > 25, name  # noise and 4:2:0 chroma in a tiny clip: not high


def test_untagged_yuv_is_read_as_bt601_limited_range(tmp_path):
    """A .y4m written by PyAV directly, from known Y, Cb, Cr planes: the documented matrix."""
    rng = np.random.default_rng(1)
    planes = [rng.integers(16, 236, (HEIGHT, WIDTH)), rng.integers(16, 241, (2, HEIGHT, WIDTH))]
    yuv = np.concatenate([planes[0][None], planes[1]]).astype(np.uint8)
    path = tmp_path / "pyav.y4m"
    with av.open(str(path), "w", format="yuv4mpegpipe") as container:
        stream = container.add_stream("rawvideo", rate=25)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv444p"
        for packet in stream.encode(av.VideoFrame.from_ndarray(yuv, format="yuv444p")):
            container.mux(packet)
    (rgb,) = open_video(path).frames()
    luma, cb, cr = (yuv[0] - 16.0) / 219, (yuv[1] - 128.0) / 224, (yuv[2] - 128.0) / 224
    red, blue = luma + 1.402 * cr, luma + 1.772 * cb
    green = (luma - 0.299 * red - 0.114 * blue) / 0.587
    expected = np.clip(np.round(np.stack([red, green, blue], axis=-1) * 255), 0, 255)
    assert np.abs(rgb - expected).max() <= 1


def test_reads_a_420_mkv_written_by_pyav(tmp_path):
    path = tmp_path / "pyav.mkv"
    pyav_write(path, "matroska", "ffv1", "yuv420p", clip(3), rate=Fraction(24))
    info, frames = read_all(path)
    assert (info.width, info.height, info.fps, info.pixel_format) == (WIDTH, HEIGHT, 24, "yuv420p")
    assert len(frames) == 3 and all(frame.shape == (HEIGHT, WIDTH, 3) for frame in frames)


def test_frames_stream_and_restart(tmp_path):
    path = tmp_path / "clip.mkv"
    write_video(path, clip(), None)
    reader = open_video(path)
    frames = reader.frames()
    assert inspect.isgenerator(frames)
    np.testing.assert_array_equal(next(frames), clip()[0])
    frames.close()
    assert len(list(reader.frames())) == COUNT  # each call starts from the first frame


def test_frame_folders_are_read_in_natural_order(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = clip(4)
    for frame, number in zip(frames, (1, 2, 10, 11)):  # plain sorting would give 1, 10, 11, 2
        write_video(tmp_path / f"single_{number}", [frame], None)
        (tmp_path / f"single_{number}" / "frame_00001.png").rename(folder / f"frame_{number}.png")
    (folder / "notes.txt").write_text("not a frame")
    (folder / ".hidden.png").write_bytes(b"not a frame either")
    info, got = read_all(folder)
    assert info.frame_count == 4
    for a, b in zip(got, frames, strict=True):
        np.testing.assert_array_equal(a, b)


# ---- refused inputs ----


def test_missing_path_is_refused(tmp_path):
    with refused("does not exist") as excinfo:
        open_video(tmp_path / "missing.mp4")
    assert "missing.mp4" in one_line(excinfo)


def test_unknown_extension_is_refused(tmp_path):
    (tmp_path / "clip.gif").write_bytes(b"GIF89a")
    with refused("unknown extension '.gif'"):
        open_video(tmp_path / "clip.gif")


def test_random_bytes_named_mp4_are_refused(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    with refused("cannot read") as excinfo:
        open_video(path)
    assert "noise.mp4" in one_line(excinfo)


@pytest.mark.parametrize("content", [b"YUV4MPEG2 W32 H2", b"", b"not a video at all\n"])
def test_damaged_y4m_header_is_refused(tmp_path, content):
    path = tmp_path / "bad.y4m"
    path.write_bytes(content)
    with refused("bad.y4m.*YUV4MPEG2") as excinfo:
        open_video(path)
    one_line(excinfo)


def test_y4m_truncated_in_a_frame_is_refused(tmp_path):
    path = tmp_path / "clip.y4m"
    write_video(path, clip(), None)
    path.write_bytes(path.read_bytes()[:-100])  # FFmpeg itself would drop the last frame silently
    with refused("truncated.*frame 4"):
        open_video(path)


def test_file_without_video_stream_is_refused(tmp_path):
    path = tmp_path / "audio.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
    with refused("audio.mkv' has no video stream"):
        open_video(path)


def test_stream_without_frames_is_refused_at_the_end(tmp_path):
    path = tmp_path / "empty.y4m"
    path.write_bytes(b"YUV4MPEG2 W8 H8 F25:1 C444\n")
    reader = open_video(path)  # a valid header: the problem shows when decoding
    assert reader.info.frame_count == 0
    with refused("empty.y4m' contains no decodable video frame"):
        list(reader.frames())


def test_empty_folder_is_refused(tmp_path):
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "notes.txt").write_text("no images here")
    with refused("contains no image files"):
        open_video(tmp_path / "frames")


def test_frames_of_varying_size_in_a_folder_are_refused(tmp_path):
    write_video(tmp_path / "frames", clip(2), None)
    write_video(tmp_path / "small", clip(1, width=16, height=8), None)
    (tmp_path / "small" / "frame_00001.png").rename(tmp_path / "frames" / "frame_00003.png")
    reader = open_video(tmp_path / "frames")
    frames = reader.frames()
    next(frames), next(frames)
    with refused("frame_00003.png' is 16x8 but the first frame .*frame_00001.png' is 32x24") as excinfo:
        next(frames)
    one_line(excinfo)


@pytest.mark.parametrize(
    ("name", "container_format", "codec", "pixel_format", "match"),
    [
        ("deep.y4m", "yuv4mpegpipe", "rawvideo", "yuv420p10le", "yuv420p10le \\(10 bits per sample\\)"),
        ("deep.mkv", "matroska", "ffv1", "yuv420p10le", "yuv420p10le \\(10 bits per sample\\)"),
        ("alpha.mkv", "matroska", "ffv1", "yuva420p", "yuva420p, which has an alpha channel"),
    ],
)
def test_high_depth_and_alpha_pixel_formats_are_refused(tmp_path, name, container_format, codec, pixel_format, match):
    path = tmp_path / name
    # FFmpeg writes y4m with more than 8 bits only when told to relax its standard compliance.
    pyav_write(path, container_format, codec, pixel_format, clip(1), container_options={"strict": "-1"})
    with refused(match) as excinfo:
        open_video(path)
    assert name in one_line(excinfo)


# ---- refused outputs, and nothing left behind ----


def test_no_frames_writes_nothing(tmp_path):
    for name in ("clip.mkv", "clip.y4m", "frames"):
        with refused("no frames to write"):
            write_video(tmp_path / name, [], None)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (np.zeros((HEIGHT, WIDTH, 3), np.float32), "float32 \\[24, 32, 3\\]; expected uint8"),
        (np.zeros((HEIGHT, WIDTH), np.uint8), "uint8 \\[24, 32\\]; expected uint8"),
        (np.zeros((HEIGHT, WIDTH, 4), np.uint8), "uint8 \\[24, 32, 4\\]; expected uint8"),
        (np.zeros((HEIGHT, WIDTH + 2, 3), np.uint8), "frame 2 .* is 34x24 but frame 0 is 32x24"),
    ],
)
@pytest.mark.parametrize("name", ["clip.mkv", "clip.y4m", "frames"] + ["clip.mp4"] * has_encoder("libx264rgb"))
def test_bad_frame_part_way_leaves_nothing_behind(tmp_path, name, bad, match):
    with refused(match) as excinfo:
        write_video(tmp_path / name, [*clip(2), bad], None)
    one_line(excinfo)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("name", ["clip.mkv", "frames"])
def test_interrupted_write_leaves_nothing_behind(tmp_path, name):
    def interrupted():
        yield from clip(2)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_video(tmp_path / name, interrupted(), None)
    assert os.listdir(tmp_path) == []


def test_failed_write_keeps_the_existing_file(tmp_path):
    path = tmp_path / "clip.mkv"
    write_video(path, clip(), None)
    before = path.read_bytes()
    with refused("varying size"):
        write_video(path, [*clip(1), clip(1, width=16)[0]], None)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["clip.mkv"]


def test_existing_non_empty_output_folder_is_refused(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with refused("frames' exists and is not empty"):
        write_video(folder, clip(), None)
    assert os.listdir(folder) == ["keep.txt"]


@pytest.mark.parametrize(
    ("name", "match"),
    [("clip.mov", "\\.mov is not supported; use \\.mkv"), ("frame.png", "image extension")],
)
def test_unwritable_extensions_are_refused(tmp_path, name, match):
    with refused(match):
        write_video(tmp_path / name, clip(), None)
    assert os.listdir(tmp_path) == []


def test_bad_fps_and_missing_directory_are_refused(tmp_path):
    with refused("fps must be a positive number"):
        write_video(tmp_path / "clip.mkv", clip(), Fraction(0))
    with refused("does not exist"):
        write_video(tmp_path / "missing" / "clip.mkv", clip(), None)
