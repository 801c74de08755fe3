"""Training data: the image files under the training folders, loaded once, and random crops of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inrcodec.errors import InrCodecError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def find_images(data_dirs: list[Path]) -> list[Path]:
    """Every image file under the given folders (recursively), sorted so a seed picks the same crops."""
    paths = []
    for folder in data_dirs:
        if not folder.is_dir():
            raise InrCodecError(f"training data folder {folder} does not exist")
        paths += [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    if not paths:
        raise InrCodecError(f"no images found under {', '.join(map(str, data_dirs))}")
    return sorted(paths)


def load_images(paths: list[Path], min_side: int) -> list[np.ndarray]:
    """uint8 [H, W, 3] arrays of the images at least min_side on both sides."""
    from PIL import Image

    images = []
    for path in paths:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
        if min(rgb.shape[:2]) >= min_side:
            images.append(rgb)
    if not images:
        raise InrCodecError(f"no training image is at least {min_side} px on both sides")
    return images


def random_crops(images: list[np.ndarray], rng: np.random.Generator, batch: int, crop: int) -> np.ndarray:
    """-> uint8 [B, crop, crop, 3]: random images, positions and horizontal flips."""
    crops = []
    for _ in range(batch):
        image = images[rng.integers(len(images))]
        top = rng.integers(image.shape[0] - crop + 1)
        left = rng.integers(image.shape[1] - crop + 1)
        patch = image[top : top + crop, left : left + crop]
        if rng.random() < 0.5:
            patch = patch[:, ::-1]
        crops.append(np.ascontiguousarray(patch))
    return np.stack(crops)
