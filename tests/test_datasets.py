"""Tests of dataset resolution: Kodak from --data-dir, the environment or the cache; downloads checked by pixel
hash (served from the local copy, never from the network); the offline error; folders of images."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inrcodec.rd import datasets
from inrcodec.errors import InrCodecError

SHARED_KODAK = Path(__file__).resolve().parents[2] / "shared" / "data" / "kodak"
needs_kodak = pytest.mark.skipif(not SHARED_KODAK.is_dir(), reason="../shared/data/kodak is not beside the repo")


@pytest.fixture(autouse=True)
def isolated(offline_datasets):
    """Every test here runs offline, without the user's environment or cache (conftest.offline_datasets)."""


@needs_kodak
def test_kodak_from_data_dir_has_24_images_in_order():
    dataset = datasets.resolve_dataset("kodak", SHARED_KODAK)
    assert dataset.name == "kodak"
    assert [name for name, _ in dataset.images] == [f"kodim{i:02d}" for i in range(1, 25)]
    assert dataset.load("kodim07").shape == (512, 768, 3)
    assert dataset.load("kodim04").shape == (768, 512, 3)


@needs_kodak
def test_kodak_data_dir_may_be_the_parent_folder_and_env_var_works(monkeypatch):
    assert datasets.resolve_dataset("kodak", SHARED_KODAK.parent).folder == SHARED_KODAK
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(SHARED_KODAK))
    dataset = datasets.resolve_dataset("KODAK")
    assert datasets.DATA_DIR_ENV in dataset.source


@needs_kodak
def test_every_local_kodak_image_matches_its_pixel_hash():
    dataset = datasets.resolve_dataset("kodak", SHARED_KODAK)
    for name, _ in dataset.images:
        assert datasets.pixel_sha256(dataset.load(name)) == datasets.KODAK_PIXEL_SHA256[name]


def _fake_kodak(folder: Path) -> None:
    """24 small PNGs named like Kodak; pixel hashes will not match (unless monkeypatched)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(datasets.KODAK_PIXEL_SHA256):
        Image.fromarray(np.full((4, 6, 3), index, np.uint8)).save(folder / f"{name}.png")


def test_a_wrong_image_under_a_kodak_name_is_refused(tmp_path):
    _fake_kodak(tmp_path / "k")
    dataset = datasets.resolve_dataset("kodak", tmp_path / "k")
    with pytest.raises(InrCodecError, match="not the Kodak image kodim01"):
        dataset.load("kodim01")


def test_data_dir_without_kodak_names_the_problem(tmp_path):
    with pytest.raises(InrCodecError, match=r"--data-dir .*no kodim01.png"):
        datasets.resolve_dataset("kodak", tmp_path)


def test_offline_without_a_copy_says_how_to_point_at_one(tmp_path):
    with pytest.raises(InrCodecError) as error:
        datasets.resolve_dataset("kodak")
    message = str(error.value)
    assert "cannot be downloaded" in message and "--data-dir" in message and datasets.DATA_DIR_ENV in message
    assert "\n" not in message
    assert not list((tmp_path / "cache" / "kodak").glob("*.png"))


def test_download_keeps_checked_images_and_refuses_a_bad_one(tmp_path, monkeypatch):
    """The 'server' returns tiny images; their hashes are registered as the expected ones except kodim03's."""
    images = {name: np.full((4, 6, 3), i, np.uint8) for i, name in enumerate(datasets.KODAK_PIXEL_SHA256)}
    served = {}
    for name, rgb in images.items():
        buffer = io.BytesIO()
        Image.fromarray(rgb).save(buffer, "PNG")
        served[datasets.KODAK_URL.format(name=name)] = buffer.getvalue()
    hashes = {name: datasets.pixel_sha256(rgb) for name, rgb in images.items()}
    hashes["kodim03"] = "0" * 64
    monkeypatch.setattr(datasets, "KODAK_PIXEL_SHA256", hashes)

    class Response(io.BytesIO):
        pass

    fetched = []
    monkeypatch.setattr(datasets.urllib.request, "urlopen", lambda url, timeout: Response(served[url]))
    with pytest.raises(InrCodecError, match="kodim03; not kept"):
        datasets.resolve_dataset("kodak", on_download=fetched.append)
    cache = tmp_path / "cache" / "kodak"
    assert sorted(p.name for p in cache.glob("*.png")) == ["kodim01.png", "kodim02.png"]
    assert not list(cache.glob(".*"))  # no half-written temporary file
    hashes["kodim03"] = datasets.pixel_sha256(images["kodim03"])
    dataset = datasets.resolve_dataset("kodak", on_download=fetched.append)
    assert len(dataset.images) == 24 and "cache" in dataset.source
    assert fetched.count(datasets.KODAK_URL.format(name="kodim01")) == 1  # kept files are not fetched again
    assert np.array_equal(dataset.load("kodim24"), images["kodim24"])


def test_folder_dataset_lists_images_sorted_and_skips_other_files(tmp_path):
    for name in ("b.png", "a.jpg", "c.webp"):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    dataset = datasets.resolve_dataset(str(tmp_path))
    assert [name for name, _ in dataset.images] == ["a", "b", "c"]
    assert dataset.name == tmp_path.name


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda p: p / "missing", "neither a named dataset"),
        (lambda p: (p / "file.png").write_bytes(b"x") and p / "file.png", "not a folder"),
        (lambda p: p, "no images"),
    ],
)
def test_folder_dataset_errors(tmp_path, make, words):
    with pytest.raises(InrCodecError, match=words):
        datasets.resolve_dataset(str(make(tmp_path)))


def test_two_images_with_one_name_are_refused(tmp_path):
    for name in ("x.png", "x.jpg"):
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / name)
    with pytest.raises(InrCodecError, match="two images named 'x'"):
        datasets.resolve_dataset(str(tmp_path))


def test_data_dir_is_for_named_datasets_only(tmp_path):
    with pytest.raises(InrCodecError, match="named datasets"):
        datasets.resolve_dataset(str(tmp_path), data_dir=tmp_path)
