"""Training of the v2 model: a few tiny steps, exact resume from a checkpoint, the card, and the export that
the encoder and decoder then use."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from inrcodec.model import registry as models
from inrcodec.model.config import ModelConfig
from inrcodec.train.image import CHECKPOINT_NAME, TrainSettings, export_model, train, training_card

TINY = ModelConfig(synth_hidden=(8,), synth_channels=4, ctx_hidden=(8,), analysis_width=8)


@pytest.fixture()
def image_dir(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, size=(80, 96, 3), dtype=np.uint8)).save(folder / f"p{i}.png")
    return folder


def settings(steps=4):
    return TrainSettings(steps=steps, batch=2, crop=64, warmup=2, checkpoint_minutes=0.0, model=TINY)


def test_resume_continues_exactly(image_dir, tmp_path):
    straight, final, _ = train([image_dir], tmp_path / "straight", settings())

    def interrupt(step, metrics):
        if step == 1:  # after the checkpoint of step 2
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train([image_dir], tmp_path / "resumed", settings(), progress=interrupt)
    resumed, final, _ = train([image_dir], tmp_path / "resumed", settings(), resume=True, command="again")
    for name, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0)
    assert [run["from_step"] for run in final["runs"]] == [0, 2]
    log = [json.loads(line) for line in (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 4


def test_resume_refuses_another_model_configuration(image_dir, tmp_path):
    train([image_dir], tmp_path / "run", settings(steps=1))
    other = TrainSettings(steps=2, batch=2, crop=64, checkpoint_minutes=0.0, model=ModelConfig())
    with pytest.raises(ValueError, match="another model configuration"):
        train([image_dir], tmp_path / "run", other, resume=True)
    assert (tmp_path / "run" / CHECKPOINT_NAME).exists()


def test_export_ships_a_model_the_codec_uses(image_dir, tmp_path, monkeypatch):
    model, final, n_images = train([image_dir], tmp_path / "models" / "tiny", settings(steps=2), command="cmd")
    card = training_card("tiny", settings(steps=2), [image_dir], n_images, "a machine", final, 2)
    assert "steps 0..2: `cmd`" in card and "Wall time" in card
    weights = export_model(model, tmp_path / "models" / "tiny", "tiny", card, default=True)
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path / "models"))
    entry = models.resolve()
    assert entry.id == "tiny" and entry.sha256 == models.file_sha256(weights) and entry.config["codec"] == 2
    from inrcodec import api

    pixels = np.asarray(Image.open(next(image_dir.glob("*.png"))))
    result = api.encode_image(pixels, steps=1)
    assert api.decode_image(result.data).shape == pixels.shape


def test_the_rate_distortion_loss_falls(image_dir, tmp_path):
    _, first, _ = train([image_dir], tmp_path / "a", TrainSettings(steps=1, batch=2, crop=64, model=TINY))
    _, later, _ = train([image_dir], tmp_path / "b", TrainSettings(steps=40, batch=2, crop=64, warmup=5, lr=3e-3,
                                                                   model=TINY))
    assert later["loss"] < first["loss"]


def test_inner_refinement_steps_train_on_refined_latents(image_dir, tmp_path):
    plain, _, _ = train([image_dir], tmp_path / "plain", settings(steps=2))
    inner = TrainSettings(steps=2, batch=2, crop=64, warmup=2, checkpoint_minutes=0.0, model=TINY, inner_steps=2)
    refined, final, n_images = train([image_dir], tmp_path / "inner", inner)
    changed = [name for name, value in plain.state_dict().items() if not torch.equal(refined.state_dict()[name], value)]
    assert changed  # the same crops and seed, other latents: other updates
    assert "2 encoder refinement steps per crop" in training_card("t", inner, [image_dir], n_images, "m", final, 2)
    assert all(p.requires_grad for p in refined.parameters())  # the inner steps hand the networks back trainable
