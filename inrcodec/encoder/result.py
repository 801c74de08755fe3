"""What an encode returns: the .inr bytes and what was measured on their decode. Torch-free, so the api and
`import inrcodec` can name the type without loading the encoder."""

from __future__ import annotations

import os
from dataclasses import dataclass, field


@dataclass(frozen=True)
class EncodeResult:
    """data: the .inr file; stats: every measured value (bytes, bpp, psnr_rgb, encode_seconds, steps, ...).

    The typed properties read stats: bpp is file bytes x 8 / pixels (header included), psnr the RGB PSNR in dB
    of what the decoder rebuilds from `data`, seconds the wall time of the encode (rate control included)."""

    data: bytes
    stats: dict = field(default_factory=dict)

    def __bytes__(self) -> bytes:
        return self.data

    @property
    def bpp(self) -> float:
        return self.stats["bpp"]

    @property
    def psnr(self) -> float:
        return self.stats["psnr_rgb"]

    @property
    def seconds(self) -> float:
        return self.stats.get("rate_control_seconds", self.stats["encode_seconds"])

    @property
    def width(self) -> int:
        return self.stats["width"]

    @property
    def height(self) -> int:
        return self.stats["height"]

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write the .inr bytes to path atomically; InrCodecError if it exists (unless overwrite)."""
        from inrcodec.media.files import atomic_write_bytes, check_output_path

        check_output_path(path, overwrite)
        atomic_write_bytes(path, self.data)
