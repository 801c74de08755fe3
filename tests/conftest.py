"""Fixtures shared by several test files, and the process settings the CLI makes (passive OpenMP waits, large
blocks kept on the heap) applied before anything imports torch: beside another busy process, spinning OpenMP
threads made the suite several times slower. Under pytest-xdist (the default, `-n auto` in pyproject.toml) each
worker gets its share of the CPUs as torch threads."""

import os
import urllib.error

import pytest

from inrcodec.runtime import tune_process

tune_process()
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:  # pytest -n N: the CPUs are shared out, not oversubscribed
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))

from inrcodec.rd import datasets  # noqa: E402  (after tune_process, which must run before torch is imported)


@pytest.fixture()
def offline_datasets(monkeypatch, tmp_path):
    """No user environment or cache leaks into dataset lookup, and the network is down (tests that download
    serve the bytes themselves). Returns the empty cache folder."""
    monkeypatch.delenv(datasets.DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(datasets, "cache_dir", lambda: tmp_path / "cache")

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(datasets.urllib.request, "urlopen", no_network)
    return tmp_path / "cache"


def make_v2_model(root, model_id="tiny-v2", seed=0, config=None):
    """A small, randomly initialised v2 model registered in root/MANIFEST.json (no training: tests that need
    a model but not a good one). Its weights are perturbed so that every network computes something."""
    import torch

    from inrcodec.encoder.model_torch import CodecModel
    from inrcodec.model.config import ModelConfig
    from inrcodec.train.image import export_model

    torch.manual_seed(seed)
    model = CodecModel(config or ModelConfig(synth_hidden=(8,), synth_channels=4, ctx_hidden=(8,), analysis_width=8))
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            parameter.add_(torch.randn_like(parameter) * (0.3 if "gain" in name else 0.05))
    export_model(model, root / model_id, model_id, f"# {model_id}\n\nrandom test model\n", default=True)
    return model


@pytest.fixture(scope="session")
def v2_models_dir(tmp_path_factory):
    """A models folder holding one random v2 model, 'tiny-v2' (the default)."""
    root = tmp_path_factory.mktemp("models")
    make_v2_model(root)
    return root


@pytest.fixture(scope="module")
def tiny_model(v2_models_dir):
    """INRCODEC_MODELS_DIR points at v2_models_dir for a whole test module (its subprocesses included); a module
    that encodes throughout uses it with autouse (`pytestmark = pytest.mark.usefixtures("tiny_model")`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INRCODEC_MODELS_DIR", str(v2_models_dir))
        yield v2_models_dir


@pytest.fixture()
def v2_model(v2_models_dir, monkeypatch):
    """INRCODEC_MODELS_DIR points at v2_models_dir; -> the model's registry entry."""
    from inrcodec.model import registry as models

    monkeypatch.setenv(models.MODELS_ENV, str(v2_models_dir))
    return models.resolve()


@pytest.fixture()
def v2_shared(v2_model):
    """The tiny v2 model's shared weights as the decoder loads them (context networks, synthesis, gains)."""
    from inrcodec.model.shared import load_shared

    return load_shared(v2_model)
