"""The v1 header records that the video file (format 1.2) shares with the retired v1 still images.

HEAD (the image header, then the model id and its SHA-256), the FELD section's field record and LEVEL records, the
table-index record, the quantisation step formula and the limits they are checked against; see
bitstream/SPEC-v1.md. Built on the declarative Field/Record of inrcodec.bitstream.syntax. Knows bytes only.
"""

from __future__ import annotations

from inrcodec.bitstream.syntax import MAX_SIDE, MODEL_ID_MAX, Field, Record
from inrcodec.errors import BitstreamError

TAG_HEAD, TAG_FIELD, TAG_DATA = b"HEAD", b"FELD", b"DATA"
MAX_PIXELS = 1 << 26  # 64 Mpixel: a header claiming more is refused rather than rendered
MAX_GRID_ENTRIES = 1 << 26
TABLES_PER_FEATURE = 6  # one entropy table per context of a grid plane
N_TABLES = 64  # normative entropy tables 0..63 (inrcodec/video/v1/groups.py)
ALL_ZERO = 255  # table index of a group whose symbols are all 0: nothing is coded
MAX_SYMBOL = 255  # coded integers lie in [-MAX_SYMBOL, MAX_SYMBOL]

IMAGE_HEADER = Record(
    "image",
    (
        Field("width", "I", 1, MAX_SIDE),
        Field("height", "I", 1, MAX_SIDE),
        Field("channels", "B", 3, 3),
        Field("bit_depth", "B", 8, 8),
        Field("model_id_length", "B", 0, MODEL_ID_MAX),
    ),
)

FIELD_CONFIG = Record(
    "field",
    (
        Field("n_dims", "B", 2, 2),
        Field("n_levels", "B", 1, 16),
        Field("n_features", "B", 1, 8),
        Field("log2_hashmap_size", "B", 4, 24),
        Field("pixels_per_unit", "I", 1, 4 * MAX_SIDE),
        Field("base_resolution", "f", 1.0, 1e6),
        Field("per_level_scale", "f", 1.0, 16.0),
        Field("mlp_hidden_layers", "B", 0, 4),
        Field("mlp_hidden_width", "H", 1, 256),
        Field("mlp_activation", "B", 0, 0),
        Field("out_channels", "B", 3, 3),
    ),
)

LEVEL = Record(
    "level",
    (
        Field("scale", "f", 0.0, 1e7),
        Field("res", "I", 1, 1 << 24),
        Field("extent_x", "H", 0, 65535),
        Field("extent_y", "H", 0, 65535),
        Field("quant_step", "B", 0, 255),
    ),
)

TABLE_INDEX = Record("table", (Field("table_index", "B", 0, 255),))


def quant_step(index: int) -> float:
    """Quantisation step of a step index: 2^((index - 128) / 8)."""
    return 2.0 ** ((index - 128) / 8)


def pack_head(image: dict, model_id: str, model_sha256: bytes) -> bytes:
    """The HEAD section: the image header, then the model id and its SHA-256 when the file names a model."""
    model = model_id.encode("ascii")
    if model and len(model_sha256) != 32:
        raise ValueError("model_sha256 must be 32 bytes")
    head = IMAGE_HEADER.pack({**image, "model_id_length": len(model)})
    return head + model + model_sha256 if model else head


def parse_head(head: bytes) -> tuple[dict, str, bytes]:
    """HEAD section -> (image header, model id or "", model SHA-256 or b"")."""
    image, offset = IMAGE_HEADER.unpack(head)
    n_model = image.pop("model_id_length")
    if not n_model:
        if offset != len(head):
            raise BitstreamError("HEAD section has the wrong length")
        return image, "", b""
    if offset + n_model + 32 != len(head):
        raise BitstreamError("HEAD section has the wrong length for its model id")
    try:
        model_id = head[offset : offset + n_model].decode("ascii")
    except UnicodeDecodeError:
        raise BitstreamError("model id is not ASCII") from None
    return image, model_id, head[offset + n_model :]
