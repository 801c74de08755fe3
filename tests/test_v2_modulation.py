"""Format 2.1's per-image modulation of the synthesis (SPEC 3.1): numpy equals torch, the encoder writes MODU
only on images large enough and only where it pays, and hostile MODU sections are refused in one line."""

import dataclasses

import numpy as np
import pytest
import torch

from inrcodec import api, decoder
from inrcodec.bitstream.container import write_container
from inrcodec.bitstream.image_v2 import HEADER, TAG_DATA, TAG_HEAD, TAG_MODU, parse_image
from inrcodec.encoder.model_torch import load_codec_model
from inrcodec.errors import BitstreamError
from inrcodec.field.synthesis import render, to_uint8
from inrcodec.model.config import level_shape
from inrcodec.model.shared import load_shared


def sample_image(height, width, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 2, y * 3, (x + y)], axis=-1) % 256 + rng.integers(0, 30, size=(height, width, 3))
    return np.clip(base, 0, 255).astype(np.uint8)


def modulation_bytes(count: int, seed: int = 3, scale: float = 0.1) -> bytes:
    return np.random.default_rng(seed).normal(0, scale, size=count).astype("<f2").tobytes()


def test_numpy_modulated_synthesis_equals_torch(v2_model):
    model, shared = load_codec_model(v2_model), load_shared(v2_model)
    assert shared.synthesis.modulation_size == shared.config.modulation_size
    values = np.frombuffer(modulation_bytes(shared.config.modulation_size), "<f2").astype(np.float32)
    rng = np.random.default_rng(1)
    height, width = 21, 30
    latents = [rng.integers(-5, 6, size=level_shape(height, width, l)) for l in range(shared.config.n_levels)]
    with torch.no_grad():
        code = torch.tensor([77.0])
        reference = model.shared.render([torch.tensor(q, dtype=torch.float32)[None, None] for q in latents], code,
                                        height, width, torch.from_numpy(values))[0].permute(1, 2, 0).numpy()
    modulated = render(latents, shared.gains(77), shared.synthesis.modulated(values), height, width)
    np.testing.assert_allclose(modulated, reference, atol=1e-5)
    plain = render(latents, shared.gains(77), shared.synthesis, height, width)
    assert np.abs(modulated - plain).mean() > 1e-2
    with pytest.raises(ValueError, match="takes"):
        shared.synthesis.modulated(values[:-1])


def test_a_modulated_file_round_trips_and_renders_its_modulation(v2_model):
    shared = load_shared(v2_model)
    plain = parse_image(api.encode_image(sample_image(20, 28), steps=0).data)
    assert plain.modulation == b"" and plain.modulation_values() is None
    file = dataclasses.replace(plain, modulation=modulation_bytes(shared.config.modulation_size))
    data = file.to_bytes()
    assert data[4:6] == bytes([2, 1]) and parse_image(data) == file
    latents = decoder.decode_file_latents(file, shared)
    expected = to_uint8(render(latents, shared.gains(file.rate_code), shared.synthesis.modulated(
        file.modulation_values()), file.height, file.width))  # fmt: skip
    decoded = decoder.decode_image(data).pixels
    assert np.array_equal(decoded, expected)
    assert not np.array_equal(decoded, decoder.decode_image(plain.to_bytes()).pixels)


def test_small_images_are_refined_without_a_modulation(v2_model):
    result = api.encode_image(sample_image(64, 96), quality=7, steps=4)
    assert not result.stats["modulated"] and parse_image(result.data).modulation == b""


def test_the_modulation_is_written_exactly_when_the_encoder_keeps_it(v2_model):
    """On a 256x256 image the encoder refines a modulation; whether it keeps it or not, the file says so, and
    with modulate=False it never does."""
    from inrcodec.encoder.image import encode_image

    pixels = sample_image(256, 256, seed=4)
    kept = []
    for quality in (1, 8):
        on = api.encode_image(pixels, quality=quality, steps=6)
        assert on.stats["modulated"] == (parse_image(on.data).modulation != b"")
        kept.append(on.stats["modulated"])
        off = encode_image(pixels, v2_model, lam=on.stats["lambda"], steps=6, modulate=False)
        assert not off.stats["modulated"] and parse_image(off.data).modulation == b""
    assert kept[1], "at the highest quality the modulation's bits cost almost nothing and it is kept"


def hand_built(file, modus: list[bytes], minor: int = 1) -> bytes:
    """The file's HEAD and DATA around the MODU payloads given (each its own section)."""
    model = file.model_id.encode()
    head = HEADER.pack({**file.header(), "model_id_length": len(model)}) + model + file.model_sha256
    sections = [(TAG_HEAD, head)] + [(TAG_MODU, modu) for modu in modus] + [(TAG_DATA, file.payload)]
    return write_container(sections, major=2, minor=minor)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda n: (np.uint16(n).tobytes() + modulation_bytes(n), 0), "in a format 2.0 file"),
        (lambda n: (np.uint16(n + 1).tobytes() + modulation_bytes(n + 1), 1), "does not fit model"),
        (lambda n: (np.uint16(0).tobytes(), 1), r"outside \[1, 1024\]"),
        (lambda n: (b"\x05", 1), "truncated"),
        (lambda n: (np.uint16(n + 1).tobytes() + modulation_bytes(n), 1), "bytes"),
        (lambda n: (np.uint16(n).tobytes() + np.full(n, np.nan, "<f2").tobytes(), 1), "not finite"),
        (lambda n: (np.uint16(n).tobytes() + np.full(n, -np.inf, "<f2").tobytes(), 1), "not finite"),
    ],
)
def test_hostile_modulation_sections_are_refused(v2_model, make, message):
    file = parse_image(api.encode_image(sample_image(12, 16), steps=0).data)
    modu, minor = make(load_shared(v2_model).config.modulation_size)
    with pytest.raises(BitstreamError, match=message):
        decoder.decode_image(hand_built(file, [modu], minor))


def test_a_duplicate_modulation_section_is_refused(v2_model):
    file = parse_image(api.encode_image(sample_image(12, 16), steps=0).data)
    count = load_shared(v2_model).config.modulation_size
    modu = np.uint16(count).tobytes() + modulation_bytes(count)
    with pytest.raises(BitstreamError, match="twice"):
        decoder.decode_image(hand_built(file, [modu, modu]))
