"""Codecs behind one interface for rate-distortion evaluation: inrcodec and live classical baselines.

Each codec turns uint8 [H, W, 3] RGB into bytes at a quality parameter and back; the harness (rd/curve.py) does
all measuring, so every codec is judged by the same code. Codec objects are small and picklable: --jobs sends
them to worker processes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from inrcodec.errors import InrCodecError
from inrcodec.presets import QUALITY_LAMBDAS

# Wide enough on Kodak to cover inrcodec's rates (about 0.1 to 2.5 bpp) from both sides where the codec can.
JPEG_QUALITIES = tuple(range(5, 100, 5))
WEBP_QUALITIES = tuple(range(0, 101, 5))
AVIF_QUALITIES = tuple(range(0, 96, 5))
# libjxl maps quality q to the Butteraugli distance 0.1 + (100 - q) * 0.09 for q >= 30, and faster below: 0..90
# sweeps distance 0.1 + 0.9 to 25 (about 0.2 to 2.5 bpp on Kodak).
JXL_QUALITIES = (0, 2) + tuple(range(5, 95, 5))
# HEIC quality 70 is already about 3 bpp on Kodak.
HEIC_QUALITIES = tuple(range(0, 75, 5))
# JPEG 2000 is swept by target rate: the compression ratio 24 / bpp for 8-bit RGB.
J2K_TARGET_BPP = (0.08, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)


def _pillow_decode(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.array(image.convert("RGB"), dtype=np.uint8)


@dataclass(frozen=True)
class Codec:
    """A codec under test. name: file stem of its results; kind: 'inrcodec' or 'live'."""

    name: str
    label: str
    kind: str
    qualities: tuple

    def encode(self, rgb: np.ndarray, quality) -> bytes:
        """uint8 [H, W, 3] -> encoded bytes."""
        raise NotImplementedError

    def decode(self, data: bytes) -> np.ndarray:
        """Encoded bytes -> uint8 [H, W, 3]."""
        return _pillow_decode(data)

    def config(self) -> dict:
        """Everything that determines the bytes; results measured under another config are not resumed."""
        import PIL

        return {"codec": self.name, "pillow": PIL.__version__}


@dataclass(frozen=True)
class PillowCodec(Codec):
    """A Pillow image format at fixed options, swept by its quality setting."""

    format_name: str = ""
    library: str = ""  # how config() names the library, e.g. "libjpeg"
    feature: str = ""  # the library's name for PIL.features, e.g. "jpg"
    settings: str = ""
    options: tuple = ()  # fixed save options as (key, value) pairs (a dict would not be hashable)

    def save_options(self, quality) -> dict:
        return {"quality": int(quality), **dict(self.options)}

    def encode(self, rgb, quality):
        return _pillow_encode(rgb, self.format_name, **self.save_options(quality))

    def config(self):
        from PIL import features

        return {**super().config(), self.library: features.version(self.feature), "settings": self.settings}


@dataclass(frozen=True)
class PillowJpeg2000(PillowCodec):
    """JPEG 2000 is swept by target rate: quality is the bpp, sent as the compression ratio 24 / bpp."""

    def save_options(self, quality) -> dict:
        return {"quality_mode": "rates", "quality_layers": [24.0 / float(quality)], **dict(self.options)}


@dataclass(frozen=True)
class PluginCodec(PillowCodec):
    """A format that a Pillow plugin package adds: JPEG XL (pillow-jxl-plugin), HEIC (pillow-heif, x265)."""

    plugin: str = ""  # the module that registers the format
    distribution: str = ""  # its PyPI name, for config()

    def _register(self) -> None:
        from inrcodec.extras import require

        module = require(self.plugin, f"the {self.name} baseline")
        if hasattr(module, "register_heif_opener"):
            module.register_heif_opener()

    def encode(self, rgb, quality):
        self._register()
        return super().encode(rgb, quality)

    def decode(self, data):
        self._register()
        return super().decode(data)

    def config(self):
        from importlib.metadata import version

        import PIL

        self._register()
        library = version(self.distribution)
        if self.plugin == "pillow_heif":
            from pillow_heif import libheif_info

            library += f", libheif {libheif_info()['libheif']}, {libheif_info()['HEIF']}"
        return {"codec": self.name, "pillow": PIL.__version__, self.library: library, "settings": self.settings}


BASELINES = {
    codec.name: codec
    for codec in (
        PillowCodec("jpeg", "JPEG (Pillow, 4:2:0)", "live", JPEG_QUALITIES, "JPEG", "libjpeg", "jpg",
                    "4:2:0, optimize, quality", (("optimize", True), ("subsampling", 2))),
        PillowCodec("webp", "WebP (Pillow, method 6)", "live", WEBP_QUALITIES, "WEBP", "libwebp", "webp",
                    "lossy, method 6, quality", (("method", 6),)),
        # One encoder thread: --jobs parallelises across images, and a fixed thread count keeps bytes stable.
        PillowCodec("avif", "AVIF (Pillow, 4:4:4)", "live", AVIF_QUALITIES, "AVIF", "libavif", "avif",
                    "4:4:4, speed 6, 1 thread, quality", (("subsampling", "4:4:4"), ("speed", 6), ("max_threads", 1))),
        PillowJpeg2000("jpeg2000", "JPEG 2000 (Pillow/OpenJPEG)", "live", J2K_TARGET_BPP, "JPEG2000", "openjpeg",
                       "jpg_2000", "irreversible 9/7, mct=1, one layer at compression ratio 24/quality (quality = bpp)",
                       (("irreversible", True), ("mct", 1))),
        PluginCodec("jxl", "JPEG XL (libjxl, effort 7)", "live", JXL_QUALITIES, "JXL", "pillow-jxl-plugin", "",
                    "lossy, effort 7, 1 thread, quality (libjxl maps it to a distance)",
                    (("effort", 7), ("num_threads", 1)), "pillow_jxl", "pillow-jxl-plugin"),
        PluginCodec("heic", "HEIC (libheif/x265, 4:4:4)", "live", HEIC_QUALITIES, "HEIF", "pillow-heif", "",
                    "x265 through libheif, 4:4:4, quality", (("chroma", 444),), "pillow_heif", "pillow-heif"),
        PluginCodec("heic420", "HEIC (libheif/x265, 4:2:0)", "live", HEIC_QUALITIES, "HEIF", "pillow-heif", "",
                    "x265 through libheif, 4:2:0, quality", (("chroma", 420),), "pillow_heif", "pillow-heif"),
    )
}


def _pillow_encode(rgb: np.ndarray, format_name: str, **options) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format_name, **options)
    return buffer.getvalue()


@dataclass(frozen=True)
class InrCodec(Codec):
    """inrcodec's image codec at one preset with one model, as `inrcodec encode` runs it."""

    preset: str = "medium"
    model: str = "default"
    name: str = ""
    label: str = ""
    kind: str = "inrcodec"
    qualities: tuple = tuple(QUALITY_LAMBDAS)
    steps: int | None = field(default=None)
    tile: int | None = field(default=None)

    def encode(self, rgb, quality):
        from inrcodec.api import encode_image

        return encode_image(rgb, quality=int(quality), preset=self.preset, steps=self.steps, model=self.model,
                            tile=self.tile).data  # fmt: skip

    def decode(self, data):
        from inrcodec.api import decode_image

        return decode_image(data)

    def config(self):
        import torch

        import inrcodec

        from inrcodec.api import preset_steps, resolve_model

        entry = resolve_model(self.model)
        return {"codec": self.name, "inrcodec": inrcodec.__version__, "torch": torch.__version__,
                "preset": self.preset, "steps": self.steps, "refinement_steps": preset_steps(self.preset, self.steps),
                "model": {"id": entry.id, "sha256": entry.sha256}} | ({} if self.tile is None else {"tile": self.tile})


def inrcodec_codec(preset: str, model: str = "default", steps: int | None = None, tile: int | None = None) -> InrCodec:
    """The inrcodec entry of a run, named by preset (and model/steps/tile when not the defaults)."""
    name = f"inrcodec-{preset}"
    label = f"inrcodec {preset}"
    if model != "default":
        name, label = f"{name}-{model}", f"{label} ({model})"
    if steps is not None:
        name, label = f"{name}-{steps}steps", f"{label}, {steps} steps"
    if tile is not None:
        name, label = f"{name}-tile{tile}", f"{label}, tiles of {tile} px" if tile else f"{label}, untiled"
    return InrCodec(preset=preset, model=model, name=name, label=label, steps=steps, tile=tile)


def baseline_codecs(names: list[str]) -> list[Codec]:
    """Live baselines by name (jpeg, webp, avif, jpeg2000, jxl, heic, heic420); InrCodecError for an unknown or
    unavailable one."""
    from PIL import features

    codecs = []
    for name in names:
        if name not in BASELINES:
            raise InrCodecError(f"unknown baseline codec {name!r}; choose from {', '.join(BASELINES)} or none")
        codec = BASELINES[name]
        if isinstance(codec, PluginCodec):
            codec._register()
        elif not features.check(codec.feature):
            raise InrCodecError(f"this Pillow has no {name} support; install a Pillow wheel with it or drop {name}")
        codecs.append(codec)
    return codecs
