"""inrcodec: a neural image codec that stores an image as the entropy-coded parameters of a small neural field.

    import inrcodec
    result = inrcodec.encode("photo.png", quality=5)   # EncodeResult: .data (bytes), .bpp, .psnr, .seconds
    pixels = inrcodec.decode(result.data)               # uint8 [H, W, 3]; never imports torch

Importing the package is cheap: the names below are loaded from inrcodec.api on first use, and torch only by
the functions that encode. `import inrcodec.pillow` lets Pillow open and save .inr files.
"""

__version__ = "0.3.0"

__all__ = ["EncodeResult", "InrCodecError", "crop", "decode", "decode_frame", "encode", "info"]


def __getattr__(name: str):
    if name in ("encode", "decode", "decode_frame", "info", "crop", "EncodeResult"):
        from inrcodec import api

        return getattr(api, name)
    if name == "InrCodecError":
        from inrcodec.errors import InrCodecError

        return InrCodecError
    raise AttributeError(f"module 'inrcodec' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
