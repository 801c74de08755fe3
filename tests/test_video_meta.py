"""Video meta-training, and the contexts of a frame's grid and of a residual: the fit's torch contexts equal the
coder's integer ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inrcodec.video.v1 import context
from inrcodec.video.v1 import groups as entropy
from inrcodec.video.v1.quant import inter_plane_contexts, plane_contexts


@pytest.mark.parametrize("shape,parent_shape", [((9, 13, 3), None), ((17, 25, 3), (9, 13, 3)), ((1, 5, 2), None)])
def test_torch_contexts_equal_the_normative_contexts(shape, parent_shape):
    rng = np.random.default_rng(0)
    plane = rng.integers(-2, 3, shape) * (rng.random(shape) < 0.3)
    parent = None if parent_shape is None else rng.integers(-1, 2, parent_shape) * (rng.random(parent_shape) < 0.5)
    contexts = plane_contexts(
        torch.tensor(plane, dtype=torch.float32), None if parent is None else torch.tensor(parent, dtype=torch.float32)
    )
    for feature in range(shape[2]):
        expected = context.context_map(plane[..., feature], None if parent is None else parent[..., feature])
        np.testing.assert_array_equal(contexts[..., feature].numpy(), expected)


def test_inter_contexts_agree_between_numpy_and_torch():
    rng = np.random.default_rng(0)
    plane_shape = (7, 9)
    parent = rng.integers(-1, 2, (4, 5, 3)).astype(np.int32)
    previous = rng.integers(-3, 4, (*plane_shape, 3)).astype(np.int32)
    expected = np.stack(
        [context.inter_context_map(parent[..., f], previous[..., f], *plane_shape) for f in range(3)], axis=-1
    )
    ours = inter_plane_contexts(torch.Size((*plane_shape, 3)), torch.from_numpy(parent), torch.from_numpy(previous))
    np.testing.assert_array_equal(ours.numpy(), expected)
    assert set(np.unique(expected)) <= set(range(context.N_CONTEXTS))
    none = context.inter_context_map(None, None, *plane_shape)
    assert (none == 0).all()


def test_inter_plane_round_trip_through_the_coder():
    rng = np.random.default_rng(1)
    plane = np.round(rng.laplace(0, 0.6, (6, 11))).astype(np.int32)
    parent = np.round(rng.laplace(0, 0.6, (3, 6))).astype(np.int32)
    previous = np.round(rng.laplace(0, 0.6, (6, 11))).astype(np.int32)
    encoder = entropy.SymbolEncoder()
    tables = [entropy.ALL_ZERO] * context.N_CONTEXTS
    for values, ctx in context.inter_plane_chunks(plane, parent, previous):
        group = entropy.best_group(values)
        tables[ctx] = group.table_index
        encoder.add(group.symbols, group.table_index)
    decoder = entropy.SymbolDecoder(encoder.to_bytes())
    decoded = context.decode_inter_plane(lambda n, c: decoder.decode(n, tables[c]), 6, 11, parent, previous)
    decoder.finish()
    np.testing.assert_array_equal(decoded, plane)


def test_synthetic_clip_moves_and_stays_in_range():
    from inrcodec.train.video import N_FRAMES, synthetic_clip

    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (80, 90, 3)).astype(np.uint8)
    clip = synthetic_clip(image, rng, 48)
    assert clip.shape == (N_FRAMES, 48, 48, 3) and clip.dtype == np.uint8
    assert not np.array_equal(clip[0], clip[1])


def test_one_outer_step_trains_only_the_residual_parameters():
    from inrcodec.train.video import outer_loss, sample_clips, video_model_from
    from inrcodec.video.v1.model import load_model

    base = load_model("base-v1").model
    model = video_model_from(base, video_meta_steps=2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rng = np.random.default_rng(3)
    image = np.random.default_rng(4).integers(0, 256, (64, 64, 3)).astype(np.uint8)
    frames, lams = sample_clips([image], rng, batch=2, crop=32)
    loss, metrics = outer_loss(model, frames, lams)
    loss.backward()
    trained = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0}
    assert trained == {"residual_log_lr_grid", "residual_log_scales"}
    assert np.isfinite(float(loss.detach())) and metrics["bpp"] > 0
    for name, value in base.state_dict().items():
        torch.testing.assert_close(before[name], value)
