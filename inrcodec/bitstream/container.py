"""The .inr container: magic, format version, flags, length-prefixed sections, END, optional CRC32.

    magic "INRC" | major u8 | minor u8 | flags u8 | reserved u8
    { tag 4 ASCII bytes | length u32 | payload }*  "END " 0
    [ CRC32 u32 of every byte before it, when flags bit 0 is set ]

A tag starting with an upper-case letter is critical (a decoder that does not know it must refuse the file);
one starting with a lower-case letter is ancillary and may be skipped. Knows bytes only.
"""

from __future__ import annotations

import struct
import zlib

from inrcodec.errors import BitstreamError

MAGIC = b"INRC"
# Major versions this code reads: 1 (v1 video; v1 still images are refused by the image reader) and 2 (v2
# images). Minor versions only add, so any minor of a known major is parsed.
READ_MAJORS = (1, 2)
FLAG_CRC32 = 0x01
END_TAG = b"END "
PREAMBLE = struct.Struct("<4sBBBB")
SECTION = struct.Struct("<4sI")


def write_container(sections: list[tuple[bytes, bytes]], crc: bool = True, minor: int = 0, major: int = 1) -> bytes:
    """sections: (4-byte tag, payload) in file order -> the whole file, format version major.minor."""
    out = bytearray(PREAMBLE.pack(MAGIC, major, minor, FLAG_CRC32 if crc else 0, 0))
    for tag, payload in sections:
        if len(tag) != 4 or tag == END_TAG:
            raise ValueError(f"bad section tag {tag!r}")
        out += SECTION.pack(tag, len(payload)) + payload
    out += SECTION.pack(END_TAG, 0)
    if crc:
        out += struct.pack("<I", zlib.crc32(out))
    return bytes(out)


def read_container(data: bytes, known_tags: frozenset[bytes]) -> tuple[dict, dict[bytes, bytes]]:
    """-> (preamble {major, minor, flags}, {tag: payload}). Raises BitstreamError naming the problem."""
    if data[:4] != MAGIC[: len(data[:4])] or not data:
        raise BitstreamError("not an .inr file (wrong magic bytes)")
    if len(data) < PREAMBLE.size:
        raise BitstreamError("file is truncated")
    magic, major, minor, flags, _ = PREAMBLE.unpack_from(data)
    if major not in READ_MAJORS:
        readable = ", ".join(f"{m}.x" for m in READ_MAJORS)
        raise BitstreamError(f"unsupported .inr format version {major}.{minor} (this decoder reads {readable})")
    body_end = len(data)
    if flags & FLAG_CRC32:
        if len(data) < PREAMBLE.size + SECTION.size + 4:
            raise BitstreamError("file is truncated")
        body_end -= 4
        (stored,) = struct.unpack_from("<I", data, body_end)
        if zlib.crc32(data[:body_end]) != stored:
            raise BitstreamError("file is corrupted or truncated (CRC32 mismatch)")
    sections: dict[bytes, bytes] = {}
    offset = PREAMBLE.size
    while True:
        if offset + SECTION.size > body_end:
            raise BitstreamError("file is truncated (no END section)")
        tag, length = SECTION.unpack_from(data, offset)
        offset += SECTION.size
        if tag == END_TAG:
            break
        if offset + length > body_end:
            raise BitstreamError(f"file is truncated (section {tag.decode('latin-1')!r} runs past the end)")
        if tag in sections:
            raise BitstreamError(f"section {tag.decode('latin-1')!r} appears twice")
        if tag not in known_tags and not tag[:1].islower():
            raise BitstreamError(f"unknown critical section {tag.decode('latin-1')!r}")
        sections[tag] = data[offset : offset + length]
        offset += length
    if offset != body_end:
        raise BitstreamError("file has trailing bytes after the END section")
    return {"major": major, "minor": minor, "flags": flags}, sections
