"""Evaluation datasets: the named Kodak set (found locally or downloaded and checked) and folders of images.

Lookup order for a named dataset: an explicit data directory (--data-dir), the INRCODEC_DATA_DIR environment
variable, then the user's cache directory; a cache miss downloads from the official source when online.
Every Kodak image is checked against the sha256 of its decoded RGB pixels, so a re-saved PNG of the same
pixels is accepted and any other image is refused.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from inrcodec.errors import InrCodecError
from inrcodec.media.files import atomic_write_bytes
from inrcodec.media.images import read_image

DATA_DIR_ENV = "INRCODEC_DATA_DIR"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
DOWNLOAD_TIMEOUT_S = 30.0

KODAK_URL = "https://r0k.us/graphics/kodak/kodak/{name}.png"
# sha256 of each image's decoded pixels (uint8 RGB, row-major [H, W, 3]), computed from the byte-identical copy
# described in ../shared/data/kodak/README.md.
KODAK_PIXEL_SHA256 = {
    "kodim01": "a00210743353594464ac67e680a41710f484444ca5f9dfddeb570de25c428273",
    "kodim02": "ae5a495df4ec40e0941265440ccf98973915b4190ab803e37a23ca93dd43a07e",
    "kodim03": "234e61f585503f2a44400f5561131e8a512ef2c15328cd83d5cdbf10e2616cf2",
    "kodim04": "e88e788fca00e6c723bb66ff45edb8cb56091ee284dcb73e3909834f2c96eeb6",
    "kodim05": "ed3d1ee770909d3b27903b52ce19ee59a9bf24621a7bf1fb57b90677da880cb6",
    "kodim06": "7f45158999fa297d1cfbd292b3e2f3f5b27770701c3473155c211c3f512cc97f",
    "kodim07": "4e3664bf6fe865b49f15f7b554efa7dbecaf73ae0e8699f2e307bf07849f1264",
    "kodim08": "889c3740e4ed54ca53d11ae735a44d15fa24fe312b3bd1609a80618a4092c208",
    "kodim09": "f8453140e63a42301a6dbebb849a3cc40d34e4e59580eb1f372f7f5460df0dbe",
    "kodim10": "fabe11b5c4f028394e093a5b5907e5fabc8072da0d5334fb3a38547a7e1be842",
    "kodim11": "ab4dd9bf8431e717d33892b3ba03c63bfea3c7fa72c2610010de7df3c194c075",
    "kodim12": "f412db2168e599949aac26bd3264f111b23a684f30a21cfd320e9e95bc69bbae",
    "kodim13": "875703d56fb9396f478b5d7d3b18e2b77c17147a685c6dc2567e1c574aaf01e3",
    "kodim14": "2bd5029ee75ac1697542e5b05624e8afe186e3250abd7513d6a806b52084c2f0",
    "kodim15": "b5353e7511277009922ecbdebfc6418fec53aa1b2a08d44fc957a7540825697b",
    "kodim16": "ed21745fd32fce95cc2c6af7fc52b1b15e590c7a14ab18ab34bd65ecaf955ac7",
    "kodim17": "566bc866664e9b06dc86e2654051b454844efe17322dbf7e24156d8243f1943e",
    "kodim18": "3475af71066f3ca8206eb12cfc989ebe9c6e44820a96604e88ae018606e1f7bd",
    "kodim19": "7956408ef24222d37ac53f579bd24d5b2c3557b16c657e8b71c1b6ae9f18de1b",
    "kodim20": "666ce8f2db5566a123bb081e70618f6f4c4253df960f3b41bb9dcc3dd134f3cf",
    "kodim21": "2d6902daf7c4486b7c8c04d834091841a2b38c8f0c81cd7a963a6510b34a2a6a",
    "kodim22": "f430842120c108b67725ada96b8b7b2a914f6a0915eacd5595064c6c1a5d70a0",
    "kodim23": "81992a83592267e69125666f3e3e04c1819529b4c4c1e55fde0a6a741bac4219",
    "kodim24": "e3e3ccc3e795b82a3da66934409dfe98ce0f5aadc6d7767543c506453599bb98",
}


@dataclass(frozen=True)
class Dataset:
    """Images to evaluate on: name -> path, in a fixed order."""

    name: str
    folder: Path
    images: tuple[tuple[str, Path], ...]
    source: str

    def load(self, image: str) -> np.ndarray:
        """uint8 [H, W, 3] RGB of one image, checked against its pixel hash for a named dataset."""
        rgb = read_image(dict(self.images)[image])
        expected = KODAK_PIXEL_SHA256.get(image) if self.name == "kodak" else None
        if expected is not None and pixel_sha256(rgb) != expected:
            raise InrCodecError(f"{dict(self.images)[image]} is not the Kodak image {image} (pixel sha256 differs)")
        return rgb


def pixel_sha256(rgb: np.ndarray) -> str:
    """sha256 hex digest of uint8 [H, W, 3] pixels (C order)."""
    return hashlib.sha256(np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()).hexdigest()


def cache_dir() -> Path:
    """The user's cache folder for inrcodec datasets (e.g. ~/.cache/inrcodec/datasets on Linux)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("inrcodec")) / "datasets"


def resolve_dataset(
    dataset: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    on_download: Callable[[str], None] | None = None,
) -> Dataset:
    """'kodak' (named) or a path to a folder of images -> Dataset; InrCodecError with a one-line reason.

    on_download(url) is called after each image is fetched and checked.
    """
    if dataset.lower() == "kodak":
        return _kodak(data_dir, download, on_download)
    if data_dir is not None:
        raise InrCodecError(f"--data-dir applies to named datasets (kodak) only, not to the folder {dataset!r}")
    return folder_dataset(Path(dataset).expanduser())


def folder_dataset(folder: Path) -> Dataset:
    """Every image file directly inside folder, sorted by name."""
    if not folder.exists():
        raise InrCodecError(f"dataset {str(folder)!r} is neither a named dataset (kodak) nor an existing folder")
    if not folder.is_dir():
        raise InrCodecError(f"dataset {str(folder)!r} is not a folder (give a folder of images or 'kodak')")
    images = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise InrCodecError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {str(folder)!r}")
    stems = [p.stem for p in images]
    if len(set(stems)) != len(stems):
        duplicate = next(s for s in stems if stems.count(s) > 1)
        raise InrCodecError(f"two images named {duplicate!r} in {str(folder)!r} (results are keyed by name)")
    return Dataset(folder.name, folder, tuple((p.stem, p) for p in images), f"folder {folder.resolve()}")


def _kodak_files(folder: Path) -> dict[str, Path] | None:
    """name -> path when folder (or folder/kodak) holds all 24 kodimNN.png files, else None."""
    for candidate in (folder, folder / "kodak"):
        files = {name: candidate / f"{name}.png" for name in KODAK_PIXEL_SHA256}
        if all(path.is_file() for path in files.values()):
            return files
    return None


def _kodak(data_dir, download: bool, on_download) -> Dataset:
    explicit = [(f"--data-dir {data_dir}", Path(data_dir).expanduser())] if data_dir is not None else []
    if not explicit and os.environ.get(DATA_DIR_ENV):
        explicit = [(f"{DATA_DIR_ENV}={os.environ[DATA_DIR_ENV]}", Path(os.environ[DATA_DIR_ENV]).expanduser())]
    for where, folder in explicit:
        files = _kodak_files(folder)
        if files is None:
            raise InrCodecError(f"{where}: no kodim01.png ... kodim24.png in that folder or in its kodak/ subfolder")
        return _kodak_dataset(files, f"local copy ({where})")
    cached = cache_dir() / "kodak"
    files = _kodak_files(cached)
    if files is None:
        if not download:
            raise InrCodecError(_offline_hint(cached, "downloads are disabled"))
        files = _download_kodak(cached, on_download)
    return _kodak_dataset(files, f"cache {cached} (from {KODAK_URL.format(name='kodimNN')})")


def _kodak_dataset(files: dict[str, Path], source: str) -> Dataset:
    folder = next(iter(files.values())).parent
    return Dataset("kodak", folder, tuple(files.items()), source)


def _offline_hint(cached: Path, reason: str) -> str:
    return (
        f"Kodak is not in {cached} and cannot be downloaded ({reason}); "
        f"point --data-dir or {DATA_DIR_ENV} at a folder holding kodim01.png ... kodim24.png"
    )


def _download_kodak(target: Path, on_download) -> dict[str, Path]:
    """Fetch the 24 images into target, each checked before it is kept (a failed run leaves no bad file)."""
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InrCodecError(f"cannot create the dataset cache {target}: {exc.strerror or exc}") from None
    files = {}
    for name, expected in KODAK_PIXEL_SHA256.items():
        path = target / f"{name}.png"
        files[name] = path
        if path.is_file():
            continue
        url = KODAK_URL.format(name=name)
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                data = response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise InrCodecError(_offline_hint(target, f"{url}: {getattr(exc, 'reason', exc)}")) from None
        _check_download(name, data, expected, url)
        atomic_write_bytes(path, data)
        if on_download is not None:
            on_download(url)
    return files


def _check_download(name: str, data: bytes, expected: str, url: str) -> None:
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            rgb = np.asarray(image.convert("RGB"), dtype=np.uint8)
    except Exception:  # noqa: BLE001 - any undecodable download is the same user-facing failure
        raise InrCodecError(f"{url} did not return a decodable image for {name}") from None
    if pixel_sha256(rgb) != expected:
        raise InrCodecError(f"{url} returned an image whose pixel sha256 does not match Kodak {name}; not kept")
