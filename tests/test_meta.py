"""The `meta-train` command's training data, and its refusal of bad data folders in one line."""

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from inrcodec import cli
from inrcodec.errors import InrCodecError
from inrcodec.train.data import find_images

runner = CliRunner()


@pytest.fixture()
def image_dir(tmp_path):
    folder = tmp_path / "train"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(3):
        y, x = np.mgrid[0:112, 0:120]
        rgb = np.stack([x * 2, y * 2, (x + y)], axis=-1) + rng.normal(0, 10, size=(112, 120, 3))
        target = folder / ("sub" if index == 2 else "") / f"img{index}.png"
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(target)
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_find_images_is_recursive_sorted_and_skips_other_files(image_dir):
    found = find_images([image_dir])
    assert [p.name for p in found] == ["img0.png", "img1.png", "img2.png"]


def test_bad_data_folders_are_refused(tmp_path):
    with pytest.raises(InrCodecError, match="does not exist"):
        find_images([tmp_path / "missing"])
    with pytest.raises(InrCodecError, match="no images found"):
        find_images([tmp_path])


def test_meta_train_command_errors_are_one_line(tmp_path):
    result = runner.invoke(cli.app, ["meta-train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output
    result = runner.invoke(
        cli.app, ["meta-train", "--data", str(tmp_path), "--out", str(tmp_path / "m"), "--device", "cpu"],
    )
    assert result.exit_code == 1 and "no images found" in result.output and "Traceback" not in result.output
