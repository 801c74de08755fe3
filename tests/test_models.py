"""Tests of the model registry (inrcodec.model.registry) and the `inrcodec models` command, on tiny fake models in a
temporary folder named by INRCODEC_MODELS_DIR."""

import json

import pytest
import torch
from typer.testing import CliRunner

from inrcodec import cli
from inrcodec.encoder.model_torch import load_model_tensors
from inrcodec.model import registry as models
from inrcodec.errors import InrCodecError

CONFIG = {"levels": 2, "grid": {"features": 4}, "lr": 0.01}
runner = CliRunner()


def fake_tensors() -> dict:
    return {
        "mlp.0.weight": torch.arange(12, dtype=torch.float32).reshape(3, 4).t(),  # not contiguous on purpose
        "grid.0": torch.linspace(-1, 1, 8),
        "steps": torch.tensor([1, 2, 3], dtype=torch.int32),
    }


def add_model(root, model_id, default=False, tensors=None, config=CONFIG):
    """save_model + register_model + a CARD.md, as the training script is expected to do it."""
    weights = models.save_model(root / model_id, model_id, tensors or fake_tensors(), config, {"note": "test"})
    (root / model_id / models.CARD_NAME).write_text(f"# {model_id}\n")
    models.register_model(root, model_id, weights, config, default=default)
    return weights


@pytest.fixture()
def root(tmp_path, monkeypatch):
    """A models folder with one model, 'tiny-a', and INRCODEC_MODELS_DIR pointing at it."""
    folder = tmp_path / "models"
    add_model(folder, "tiny-a")
    monkeypatch.setenv(models.MODELS_ENV, str(folder))
    return folder


def test_save_register_list_resolve_load_round_trip(root):
    manifest = json.loads((root / "MANIFEST.json").read_text())
    assert manifest == {
        "format": 1,
        "default": "tiny-a",
        "models": [
            {
                "id": "tiny-a",
                "file": "tiny-a/model.safetensors",
                "sha256": models.file_sha256(root / "tiny-a" / "model.safetensors"),
                "config": CONFIG,
                "card": "tiny-a/CARD.md",
            }
        ],
    }
    assert (root / "MANIFEST.json").read_text().endswith("}\n")
    [entry] = models.list_models()
    assert entry == models.resolve("tiny-a") == models.resolve()
    assert entry.path == (root / "tiny-a" / "model.safetensors").resolve() and entry.path.is_absolute()
    assert entry.card == (root / "tiny-a" / "CARD.md").resolve()
    assert entry.is_default and entry.config == CONFIG
    assert models.models_dir() == root.resolve()

    tensors, metadata = load_model_tensors(entry)
    expected = fake_tensors()
    assert tensors.keys() == expected.keys()
    for name, tensor in expected.items():
        assert tensors[name].dtype == tensor.dtype and torch.equal(tensors[name], tensor), name
    assert metadata["id"] == "tiny-a" and json.loads(metadata["config"]) == CONFIG and metadata["note"] == "test"


def test_default_is_the_first_registered_unless_asked(root):
    add_model(root, "tiny-b")
    assert models.resolve().id == "tiny-a"
    add_model(root, "tiny-c", default=True)
    assert models.resolve().id == "tiny-c"
    assert [(e.id, e.is_default) for e in models.list_models()] == [
        ("tiny-a", False),
        ("tiny-b", False),
        ("tiny-c", True),
    ]
    add_model(root, "tiny-a", config={"levels": 3})  # replacing an entry keeps one entry per id
    entries = {e.id: e for e in models.list_models()}
    assert len(entries) == 3 and entries["tiny-a"].config == {"levels": 3} and models.resolve().id == "tiny-c"


def test_unknown_id_names_the_installed_models(root):
    add_model(root, "tiny-b")
    with pytest.raises(InrCodecError, match=r"^model 'nope' is not installed \(installed: tiny-a, tiny-b\)$"):
        models.resolve("nope")


def test_damaged_weights_fail_the_sha256_check(root):
    weights = root / "tiny-a" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(InrCodecError, match="do not match their sha256 in MANIFEST.json"):
        load_model_tensors(models.resolve("tiny-a"))
    weights.unlink()
    with pytest.raises(InrCodecError, match="missing"):
        load_model_tensors(models.resolve("tiny-a"))


def test_find_model_checks_id_and_sha256(root):
    entry = models.resolve("tiny-a")
    assert models.find_model("tiny-a", bytes.fromhex(entry.sha256)) == entry
    other = bytes(range(32))
    with pytest.raises(InrCodecError) as missing:
        models.find_model("tiny-z", other)
    assert str(missing.value) == f"this file needs model 'tiny-z' (sha256 {other.hex()[:16]}...), which is not installed"
    with pytest.raises(InrCodecError) as different:
        models.find_model("tiny-a", other)
    assert str(different.value) == (
        f"this file needs model 'tiny-a' with sha256 {other.hex()[:16]}..., "
        f"but the installed 'tiny-a' has sha256 {entry.sha256[:16]}..."
    )


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        '{"format": 2, "default": null, "models": []}',
        '{"format": 1, "default": "x", "models": [{"id": "x"}]}',
        '{"format": 1, "default": "y", "models": []}',
    ],
)
def test_malformed_manifest_is_a_user_error(root, text):
    (root / "MANIFEST.json").write_text(text)
    with pytest.raises(InrCodecError, match="malformed model manifest .*MANIFEST.json"):
        models.list_models()


def test_env_var_without_manifest_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path))
    with pytest.raises(InrCodecError, match=f"{models.MODELS_ENV} is '{tmp_path}', which has no MANIFEST.json"):
        models.models_dir()


def test_invalid_ids_and_weights_outside_the_folder_are_refused(tmp_path):
    with pytest.raises(InrCodecError, match="invalid model id"):
        models.save_model(tmp_path / "x", "bad id", fake_tensors(), CONFIG)
    weights = models.save_model(tmp_path / "elsewhere", "tiny-a", fake_tensors(), CONFIG)
    with pytest.raises(InrCodecError, match="not inside the models folder"):
        models.register_model(tmp_path / "models", "tiny-a", weights, CONFIG)


def test_importing_models_does_not_import_torch():
    import subprocess
    import sys

    probe = "import sys, inrcodec.model.registry; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], timeout=60).returncode == 0


# ---- the `models` command ----


def test_models_json_lists_the_models(root):
    add_model(root, "tiny-b")
    result = runner.invoke(cli.app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["models_dir"] == str(root.resolve()) and listing["default"] == "tiny-a"
    assert [m["id"] for m in listing["models"]] == ["tiny-a", "tiny-b"]
    first = listing["models"][0]
    assert first == {
        "id": "tiny-a",
        "sha256": models.file_sha256(root / "tiny-a" / "model.safetensors"),
        "file": str((root / "tiny-a" / "model.safetensors").resolve()),
        "config": CONFIG,
        "card": str((root / "tiny-a" / "CARD.md").resolve()),
        "default": True,
    }


def test_models_table_mentions_the_model(root):
    result = runner.invoke(cli.app, ["models"])
    assert result.exit_code == 0, result.output
    assert "tiny-a" in result.stdout and models.resolve().sha256[:12] in result.stdout
    assert "levels=2" in result.stdout


def test_models_without_a_manifest_fails_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv(models.MODELS_ENV, str(tmp_path))
    result = runner.invoke(cli.app, ["models", "--json"])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "MANIFEST.json" in lines[0], result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
