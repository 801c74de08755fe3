"""Meta-training (inrcodec.meta) and the `meta-train` command on a few tiny images: it writes a registered model
that encodes and decodes, it resumes an interrupted run exactly, and it refuses bad data folders."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from inrcodec import cli, models
from inrcodec.errors import InrCodecError
from inrcodec.meta import TrainSettings, find_images, train
from inrcodec.metamodel import MetaConfig, MetaModel

runner = CliRunner()


@pytest.fixture()
def image_dir(tmp_path):
    folder = tmp_path / "train"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(3):
        y, x = np.mgrid[0:40, 0:48]
        rgb = np.stack([x * 5, y * 6, (x + y) * 3], axis=-1) + rng.normal(0, 10, size=(40, 48, 3))
        target = folder / ("sub" if index == 2 else "") / f"img{index}.png"
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(target)
    (folder / "notes.txt").write_text("not an image")
    return folder


def tiny_settings(steps=4) -> TrainSettings:
    return TrainSettings(steps=steps, batch=2, crop=32, checkpoint_every=2)


def test_find_images_is_recursive_sorted_and_skips_other_files(image_dir):
    found = find_images([image_dir])
    assert [p.name for p in found] == ["img0.png", "img1.png", "img2.png"]


def test_bad_data_folders_are_refused(tmp_path):
    with pytest.raises(InrCodecError, match="does not exist"):
        find_images([tmp_path / "missing"])
    with pytest.raises(InrCodecError, match="no images found"):
        find_images([tmp_path])


def test_training_changes_the_model_and_logs(image_dir, tmp_path):
    model, final, n_images = train([image_dir], tmp_path / "run", tiny_settings())
    assert n_images == 3 and final["step"] == 4
    torch.manual_seed(0)
    initial = MetaModel(MetaConfig())
    assert not torch.equal(initial.mlp.layers[0].weight, model.mlp.layers[0].weight)
    assert not torch.equal(initial.predictor_weight, model.predictor_weight)
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in log] == [1, 2, 3, 4]
    assert all(np.isfinite(row["loss"]) for row in log)


def test_resume_continues_exactly(image_dir, tmp_path):
    straight, _, _ = train([image_dir], tmp_path / "straight", tiny_settings())

    def interrupt(step, metrics):
        if step == 2:  # after the checkpoint of step 2
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train([image_dir], tmp_path / "resumed", tiny_settings(), progress=interrupt)
    resumed, final, _ = train([image_dir], tmp_path / "resumed", tiny_settings(), resume=True)
    assert final["step"] == 4
    for name, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0)


def test_resume_refuses_other_settings(image_dir, tmp_path):
    train([image_dir], tmp_path / "run", tiny_settings(steps=2))
    with pytest.raises(InrCodecError, match="other settings"):
        train([image_dir], tmp_path / "run", tiny_settings(steps=3), resume=True)


def test_meta_train_command_ships_a_usable_model(image_dir, tmp_path, monkeypatch):
    out = tmp_path / "models" / "tiny-v0"
    result = runner.invoke(
        cli.app, ["meta-train", "--data", str(image_dir), "--out", str(out), "--steps", "2", "--batch", "2", "--crop", "32"]
    )
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").exists() and (out / "CARD.md").exists()
    card = (out / "CARD.md").read_text()
    assert "meta-train --data" in card and "Wall time" in card and "seed 0" in card
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path / "models"))
    entry = models.resolve()
    assert entry.id == "tiny-v0" and entry.sha256 == models.file_sha256(out / "model.safetensors")
    png, inr, decoded = tmp_path / "in.png", tmp_path / "x.inr", tmp_path / "out.png"
    Image.open(next(image_dir.glob("*.png"))).save(png)
    assert runner.invoke(cli.app, ["encode", str(png), "-o", str(inr), "--steps", "3"]).exit_code == 0
    assert runner.invoke(cli.app, ["decode", str(inr), "-o", str(decoded)]).exit_code == 0
    assert Image.open(decoded).size == (48, 40)


def test_meta_train_command_errors_are_one_line(tmp_path):
    result = runner.invoke(cli.app, ["meta-train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output
