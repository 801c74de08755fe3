"""The wheel, as a user who only decodes gets it: built from this checkout, installed into a fresh virtual
environment with the core dependencies except torch (encode-only) and no extras, it decodes a conformance
vector through the API, Pillow and the CLI, and never imports torch, scipy, matplotlib or PyAV."""

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VECTORS = REPO / "bitstream" / "vectors" / "v2"
NAME = "gradient_32x24_q2"

CHECK = """
import importlib.util, json, sys
import numpy as np
from PIL import Image
import inrcodec, inrcodec.pillow
pixels = inrcodec.decode(sys.argv[1])
opened = np.asarray(Image.open(sys.argv[1]))
reference = np.asarray(Image.open(sys.argv[2])).astype(int)
assert opened.shape == reference.shape and (opened == pixels).all()
assert np.abs(pixels.astype(int) - reference).max() <= 1
loaded = [m for m in ("torch", "scipy", "matplotlib", "av") if m in sys.modules]
installed = [m for m in ("torch", "scipy", "matplotlib", "av") if importlib.util.find_spec(m)]
print(json.dumps({"loaded": loaded, "installed": installed, "version": inrcodec.info(sys.argv[1])["format_version"]}))
"""


def core_requirements(wheel: Path) -> list[str]:
    """The wheel's Requires-Dist without an extra marker, torch left out (only encoding needs it)."""
    with zipfile.ZipFile(wheel) as archive:
        metadata = next(name for name in archive.namelist() if name.endswith(".dist-info/METADATA"))
        lines = archive.read(metadata).decode().splitlines()
    requirements = [line.split(":", 1)[1].strip() for line in lines if line.startswith("Requires-Dist:")]
    return [r for r in requirements if "extra ==" not in r and not r.startswith("torch")]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(REPO), "-w",
                    str(out)], check=True, capture_output=True)  # fmt: skip
    return next(out.glob("inrcodec-*.whl"))


def test_the_wheel_holds_every_package_and_the_shipped_model(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {p.parent.relative_to(REPO).as_posix() for p in (REPO / "inrcodec").rglob("__init__.py")}
    assert {f"{package}/__init__.py" for package in packages} <= names
    manifest = json.loads((REPO / "models" / "MANIFEST.json").read_text())
    default = next(m for m in manifest["models"] if m["id"] == manifest["default"])
    assert f"inrcodec/_models/{default['file']}" in names and "inrcodec/_models/MANIFEST.json" in names
    assert "inrcodec/_anchors/README.md" in names
    assert not any(name.endswith("checkpoint.pt") for name in names)


@pytest.mark.slow
def test_a_decode_only_install_decodes_a_vector(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["--no-deps", str(wheel)], check=True, capture_output=True)
    subprocess.run(pip + core_requirements(wheel), check=True, capture_output=True)
    environment = {"INRCODEC_MODELS_DIR": str(VECTORS / "models"), "PATH": str(env_dir / "bin")}
    vector, png = VECTORS / f"{NAME}.inr", VECTORS / f"{NAME}.png"
    checked = subprocess.run([str(python), "-c", CHECK, str(vector), str(png)], env=environment, cwd=tmp_path,
                             capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == {"loaded": [], "installed": [], "version": "2.1"}
    cli = subprocess.run([str(env_dir / "bin" / "inrcodec"), "decode", str(vector), "-o", str(tmp_path / "out.png")],
                         env=environment, capture_output=True, text=True)  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    clip = subprocess.run([str(env_dir / "bin" / "inrcodec"), "rd-curve", "--preset", "none"], env=environment,
                          capture_output=True, text=True)  # fmt: skip
    assert clip.returncode == 1 and clip.stderr.count("\n") == 1
    assert "pip install 'inrcodec[eval]'" in clip.stderr and "Traceback" not in clip.stderr
