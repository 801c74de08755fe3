"""A Pillow plugin for .inr images: `import inrcodec.pillow`, then

    Image.open("photo.inr")                              # decodes (numpy only, never torch)
    img.save("photo.inr", quality=5, preset="fast")      # encodes; quality 1..8, or target_bpp=0.5

Opening reads the header only; the pixels are decoded on first access (img.load(), img.convert(), ...).
Clips are refused: use inrcodec.decode_frame. Saving takes an RGB or grey image (others are converted to RGB).
"""

from __future__ import annotations

from PIL import Image, ImageFile

from inrcodec import api
from inrcodec.bitstream.container import MAGIC
from inrcodec.errors import InrCodecError
from inrcodec.media.files import MAX_FILE_BYTES
from inrcodec.presets import DEFAULT_PRESET, DEFAULT_QUALITY

FORMAT = "INR"


def _accept(prefix: bytes) -> bool:
    return prefix[:4] == MAGIC


class InrImageFile(ImageFile.ImageFile):
    format = FORMAT
    format_description = "inrcodec neural image"

    def _open(self) -> None:
        data = self.fp.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise SyntaxError(f"an .inr file larger than {MAX_FILE_BYTES} bytes is refused")
        try:
            header = api.info(data)
        except InrCodecError as exc:
            raise SyntaxError(f"not a readable .inr image: {exc}") from None
        if header.get("kind") == "video":
            raise SyntaxError("this .inr file is a clip; use inrcodec.decode_frame")
        image = header["image"]
        self._mode = "L" if image["channels"] == 1 else "RGB"
        self._size = tuple(header["box"][2:])  # a cropped file shows a box of its canvas
        self.info["inr"] = {key: header[key] for key in ("format_version", "model_id", "lambda", "bpp")}
        self._inr_data = data
        self.tile = []

    def load(self):
        if self._inr_data is not None:
            try:
                pixels = api.decode(self._inr_data)
            except InrCodecError as exc:
                raise OSError(f"cannot decode the .inr image: {exc}") from None
            self.im = Image.fromarray(pixels, self.mode).im
            self._inr_data = None
        return Image.Image.load(self)


def _save(image: Image.Image, fp, filename) -> None:
    """img.save(..., quality=1..8, preset='fast'|'medium'|'slow', target_bpp=B, steps=N, model=ID)."""
    options = image.encoderinfo
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    result = api.encode(image, quality=options.get("quality", DEFAULT_QUALITY),
                        preset=options.get("preset", DEFAULT_PRESET), target_bpp=options.get("target_bpp"),
                        steps=options.get("steps"), model=options.get("model", "default"))  # fmt: skip
    fp.write(result.data)


Image.register_open(FORMAT, InrImageFile, _accept)
Image.register_save(FORMAT, _save)
Image.register_extension(FORMAT, ".inr")
Image.register_mime(FORMAT, "image/x-inrcodec")
