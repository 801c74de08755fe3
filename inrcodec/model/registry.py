"""The registry of shipped models: the meta-learned weights that encoder and decoder share.

A models folder holds MANIFEST.json and one subfolder per model with model.safetensors and CARD.md:

    {"format": 1, "default": "<id>",
     "models": [{"id": "<id>", "file": "<id>/model.safetensors", "sha256": "<hex>", "config": {...},
                 "card": "<id>/CARD.md"}]}

A .inr file names the model it was encoded with by id and raw sha256, so the decoder can refuse a file whose
model is missing or different instead of decoding garbage. The folder is found by models_dir(): the
INRCODEC_MODELS_DIR environment variable, else the copy shipped in the wheel (inrcodec/_models), else the
repository's models/ folder (source checkout or editable install).

This module never imports torch: the encoder loads tensors with encoder/model_torch.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inrcodec.bitstream.syntax import MODEL_ID_MAX
from inrcodec.errors import InrCodecError
from inrcodec.media.files import atomic_write_bytes

MODELS_ENV = "INRCODEC_MODELS_DIR"
MANIFEST_NAME = "MANIFEST.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "CARD.md"
MANIFEST_FORMAT = 1

# An id is stored as ASCII in every .inr file (at most MODEL_ID_MAX bytes) and names the model's folder,
# so it is kept to characters that are safe in both places.
_ID_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MODEL_ID_MAX - 1}}}")
_SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ModelEntry:
    """One installed model, as MANIFEST.json records it."""

    id: str
    path: Path  # absolute path of the weights file
    sha256: str  # hex digest recorded in MANIFEST.json
    config: dict = field(hash=False)  # the "config" object recorded in MANIFEST.json; a dict cannot be hashed
    card: Path | None  # absolute path of CARD.md if it exists
    is_default: bool


def models_dir() -> Path:
    """The folder holding MANIFEST.json and the installed models."""
    root = _find_models_dir()
    if root is None:
        raise InrCodecError(
            f"no models found: neither the installed package nor the source tree has a {MANIFEST_NAME}; "
            f"set {MODELS_ENV} to a folder that holds one"
        )
    return root


def _find_models_dir() -> Path | None:
    """models_dir(), but None where no folder exists, so that find_model can say which model is missing."""
    configured = os.environ.get(MODELS_ENV)
    if configured:
        root = Path(configured).expanduser()
        # A set variable is the user's explicit choice: falling back to another folder would hide their mistake.
        if not (root / MANIFEST_NAME).is_file():
            raise InrCodecError(f"{MODELS_ENV} is {configured!r}, which has no {MANIFEST_NAME}")
        return root.resolve()
    package = Path(__file__).resolve().parents[1]  # inrcodec/
    for candidate in (package / "_models", package.parent / "models"):  # installed wheel, then source checkout
        if (candidate / MANIFEST_NAME).is_file():
            return candidate
    return None


def read_manifest(root: Path) -> dict:
    """The parsed and checked MANIFEST.json of a models folder."""
    path = Path(root) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InrCodecError(f"cannot read model manifest {str(path)!r}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InrCodecError(f"malformed model manifest {str(path)!r}: {exc}") from None
    problem = _manifest_problem(manifest)
    if problem:
        raise InrCodecError(f"malformed model manifest {str(path)!r}: {problem}")
    return manifest


def _manifest_problem(manifest) -> str | None:
    """What is wrong with a parsed manifest, or None; checked up front so later code can trust its shape."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    if manifest.get("format") != MANIFEST_FORMAT:
        return f"unsupported format {manifest.get('format')!r} (this version reads format {MANIFEST_FORMAT})"
    models = manifest.get("models")
    if not isinstance(models, list):
        return "'models' is not a list"
    ids = []
    for index, model in enumerate(models):
        if not isinstance(model, dict):
            return f"models[{index}] is not an object"
        if not isinstance(model.get("id"), str) or not _ID_PATTERN.fullmatch(model["id"]):
            return f"models[{index}] has no valid 'id'"
        if not isinstance(model.get("file"), str) or not model["file"] or Path(model["file"]).is_absolute():
            return f"model {model['id']!r} has no relative 'file'"
        if not isinstance(model.get("sha256"), str) or not _SHA256_PATTERN.fullmatch(model["sha256"]):
            return f"model {model['id']!r} has no valid 'sha256'"
        if not isinstance(model.get("config"), dict):
            return f"model {model['id']!r} has no 'config' object"
        if "card" in model and not isinstance(model["card"], str):
            return f"model {model['id']!r} has a 'card' that is not a string"
        if model["id"] in ids:
            return f"model {model['id']!r} is listed twice"
        ids.append(model["id"])
    default = manifest.get("default")
    if ids and default not in ids:
        return f"default {default!r} is not one of the models"
    if not ids and default is not None:
        return f"default {default!r} but no models"
    return None


def list_models() -> list[ModelEntry]:
    """The installed models, in manifest order (sorted by id when written by register_model)."""
    root = models_dir()
    return _entries(root, read_manifest(root))


def _entries(root: Path, manifest: dict) -> list[ModelEntry]:
    entries = []
    for model in manifest["models"]:
        path = root / model["file"]
        card = root / model["card"] if "card" in model else path.parent / CARD_NAME
        entries.append(
            ModelEntry(
                id=model["id"],
                path=path,
                sha256=model["sha256"],
                config=model["config"],
                card=card if card.is_file() else None,
                is_default=model["id"] == manifest.get("default"),
            )
        )
    return entries


def resolve(model_id: str | None = None) -> ModelEntry:
    """The installed model with this id; None means the manifest's default."""
    root = models_dir()
    manifest = read_manifest(root)
    entries = {entry.id: entry for entry in _entries(root, manifest)}
    wanted = manifest.get("default") if model_id is None else model_id
    if wanted is None:
        raise InrCodecError(f"no default model: {root / MANIFEST_NAME} lists no models")
    if wanted not in entries:
        installed = ", ".join(sorted(entries)) or "none"
        raise InrCodecError(f"model '{wanted}' is not installed (installed: {installed})")
    return entries[wanted]


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so that large weights need not fit in memory twice."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            for chunk in iter(lambda: file.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InrCodecError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def read_weights(entry: ModelEntry) -> bytes:
    """The bytes of an installed model's safetensors file, after checking their sha256 against the manifest.

    One read for both the hash and the parse: the bytes checked are the bytes used."""
    try:
        data = entry.path.read_bytes()
    except FileNotFoundError:
        raise InrCodecError(
            f"weights of model '{entry.id}' are missing: {str(entry.path)!r} (damaged install?)"
        ) from None
    except OSError as exc:
        raise InrCodecError(f"cannot read weights of model '{entry.id}': {exc.strerror or exc}") from None
    if hashlib.sha256(data).hexdigest() != entry.sha256:
        raise InrCodecError(
            f"weights of model '{entry.id}' do not match their sha256 in MANIFEST.json (damaged install?)"
        )
    return data


def load_weight_arrays(entry: ModelEntry) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(numpy arrays, safetensors metadata) of an installed model, sha256 checked; InrCodecError if unreadable."""
    from safetensors.numpy import load

    return parse_weights(entry, read_weights(entry), load)


def parse_weights(entry: ModelEntry, data: bytes, load) -> tuple[dict, dict[str, str]]:
    """(load(data), metadata): load is safetensors.numpy.load or safetensors.torch.load."""
    from safetensors import SafetensorError

    try:
        return load(data), _safetensors_metadata(data)
    except (SafetensorError, ValueError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InrCodecError(f"weights of model '{entry.id}' are not a valid safetensors file: {exc}") from None


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    """The __metadata__ of safetensors bytes: an 8-byte little-endian header length, then a JSON header."""
    header_length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_length].decode("utf-8"))
    return dict(header.get("__metadata__") or {})


def find_model(model_id: str, sha256: bytes) -> ModelEntry:
    """The installed model that a .inr file names by id and raw 32-byte sha256."""
    root = _find_models_dir()
    entries = {} if root is None else {entry.id: entry for entry in _entries(root, read_manifest(root))}
    wanted = sha256.hex()
    entry = entries.get(model_id)
    if entry is None:
        raise InrCodecError(f"this file needs model '{model_id}' (sha256 {wanted[:16]}...), which is not installed")
    if entry.sha256 != wanted:
        raise InrCodecError(
            f"this file needs model '{model_id}' with sha256 {wanted[:16]}..., "
            f"but the installed '{model_id}' has sha256 {entry.sha256[:16]}..."
        )
    return entry


def save_model(
    out_dir: Path, model_id: str, tensors: dict, config: dict, metadata: dict[str, str] | None = None
) -> Path:
    """Write out_dir/model.safetensors atomically, with the id and config in its metadata; -> its path.

    tensors: name -> numpy array or torch tensor (converted here, so this module never imports torch)."""
    from safetensors.numpy import save

    _check_id(model_id)
    metadata = dict(metadata or {})
    if {"id", "config"} & metadata.keys():
        raise ValueError("metadata may not set 'id' or 'config': save_model writes them from its arguments")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    # a C-ordered copy (np.ascontiguousarray would turn a 0-d tensor into shape [1])
    prepared = {name: np.array(_as_array(tensor), order="C") for name, tensor in tensors.items()}
    data = save(prepared, metadata={"id": model_id, "config": json.dumps(config, sort_keys=True), **metadata})
    path = out_dir / WEIGHTS_NAME
    atomic_write_bytes(path, _canonical_header(data))
    return path


def _as_array(tensor) -> np.ndarray:
    if hasattr(tensor, "detach"):  # a torch tensor
        return tensor.detach().cpu().numpy()
    return np.asarray(tensor)


def _canonical_header(data: bytes) -> bytes:
    """safetensors bytes with their JSON header's keys sorted: safetensors writes the metadata in hash order,
    which changes from run to run, so the same weights would get another sha256 each time they are saved."""
    header_length = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + header_length]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)  # safetensors aligns the tensor data to 8 bytes
    return len(header).to_bytes(8, "little") + header + data[8 + header_length :]


def register_model(root: Path, model_id: str, weights: Path, config: dict, default: bool = False) -> None:
    """Add or replace model_id's entry in root/MANIFEST.json (created if absent), hashing the weights file."""
    _check_id(model_id)
    root, weights = Path(root), Path(weights)
    try:
        relative = weights.resolve().relative_to(root.resolve())
    except ValueError:
        raise InrCodecError(f"weights {str(weights)!r} are not inside the models folder {str(root)!r}") from None
    if (root / MANIFEST_NAME).exists():
        manifest = read_manifest(root)
    else:
        manifest = {"format": MANIFEST_FORMAT, "default": None, "models": []}
    entry = {
        "id": model_id,
        "file": relative.as_posix(),
        "sha256": file_sha256(weights),
        "config": config,
        "card": (relative.parent / CARD_NAME).as_posix(),
    }
    models = sorted([m for m in manifest["models"] if m["id"] != model_id] + [entry], key=lambda m: m["id"])
    chosen = model_id if default or not manifest.get("default") else manifest["default"]
    text = json.dumps({"format": MANIFEST_FORMAT, "default": chosen, "models": models}, indent=2) + "\n"
    atomic_write_bytes(root / MANIFEST_NAME, text.encode("utf-8"))


def _check_id(model_id: str) -> None:
    if not isinstance(model_id, str) or not _ID_PATTERN.fullmatch(model_id):
        raise InrCodecError(
            f"invalid model id {model_id!r}: use 1 to {MODEL_ID_MAX} ASCII letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
