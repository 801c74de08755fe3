"""Rate-distortion curves in CompressAI's JSON schema: the published Kodak anchors, and any other such file.

The anchors are built by `eval/build_anchors.py`; see `eval/anchors/README.md` for where each comes from.
"""

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from inrcodec.errors import InrCodecError

ENV_VAR = "INRCODEC_ANCHORS_DIR"

# Published curves drawn first, in this order; the rest follow by file name.
_FIRST = ("coinpp", "coin")


def anchors_dir() -> Path:
    """The folder that holds one subfolder of anchor JSON files per dataset.

    $INRCODEC_ANCHORS_DIR if set; else the copy shipped inside the installed package (`inrcodec/_anchors`);
    else `eval/anchors` of the source checkout this module sits in.
    """
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    package = Path(__file__).resolve().parents[1]  # inrcodec/
    packaged = package / "_anchors"
    if packaged.is_dir():
        return packaged
    return package.parent / "eval" / "anchors"


@dataclass(frozen=True)
class Curve:
    """One rate-distortion curve: points in ascending file order, PSNR in dB, MS-SSIM linear (0..1) or None."""

    name: str  # identifier, e.g. the file stem "coinpp"
    label: str  # display label, e.g. "COIN++"
    kind: str  # free string: "published" for anchors, anything else for live results
    bpp: tuple[float, ...]
    psnr: tuple[float, ...]
    ms_ssim: tuple[float, ...] | None
    meta: dict = field(default_factory=dict, compare=False)


def _series(results: dict, key: str, path: Path, allow_null: bool = False) -> tuple[float, ...] | None:
    """results[key] as floats; None when allow_null and any entry is null. Raises InrCodecError if malformed."""
    values = results.get(key)
    if not isinstance(values, list) or not values:
        raise InrCodecError(f"{path}: results.{key} is missing or not a non-empty list")
    if allow_null and any(v is None for v in values):
        return None
    # bool is an int subclass, but true/false in a curve is a malformed file, not a number.
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise InrCodecError(f"{path}: results.{key} holds a value that is not a finite number")
    return tuple(float(v) for v in values)


def load_curve(path: Path, kind: str | None = None) -> Curve:
    """Read one CompressAI-schema JSON file; kind defaults to meta.kind (else "unknown").

    Raises InrCodecError with a one-line message if the file cannot be read or is not such a curve.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InrCodecError(f"{path}: cannot read anchor file ({exc.__class__.__name__})") from exc
    except json.JSONDecodeError as exc:
        raise InrCodecError(f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise InrCodecError(f"{path}: no 'results' object (expected CompressAI's JSON schema)")
    results = doc["results"]
    meta = doc.get("meta") if isinstance(doc.get("meta"), dict) else {}
    bpp = _series(results, "bpp", path)
    psnr = _series(results, "psnr-rgb", path)
    ms_ssim = _series(results, "ms-ssim-rgb", path, allow_null=True) if "ms-ssim-rgb" in results else None
    if len(psnr) != len(bpp) or (ms_ssim is not None and len(ms_ssim) != len(bpp)):
        raise InrCodecError(f"{path}: results series have different lengths")
    label = doc.get("name")
    return Curve(
        name=path.stem,
        label=label if isinstance(label, str) and label else path.stem,
        kind=kind if kind is not None else str(meta.get("kind", "unknown")),
        bpp=bpp,
        psnr=psnr,
        ms_ssim=ms_ssim,
        meta=meta,
    )


def published_anchors(dataset: str = "kodak") -> list[Curve]:
    """Every anchor of a dataset: COIN++ first, then COIN, then the rest by file name; [] if there are none."""
    folder = anchors_dir() / dataset
    if not folder.is_dir():
        return []

    def order(path: Path):
        return (_FIRST.index(path.stem) if path.stem in _FIRST else len(_FIRST), path.stem)

    return [load_curve(path) for path in sorted(folder.glob("*.json"), key=order)]
