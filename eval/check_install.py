"""A user's plain install, measured: `pip install .` (no extras) into a fresh virtual environment, then decode a
conformance vector through the API and Pillow's Image.open, and the CLI's stdin/stdout pipeline against its
file-to-file commands. Writes what it saw (installed packages, modules loaded by decoding, timings) as JSON.

    python eval/check_install.py --out eval/results/install_check.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
import venv
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VECTOR = REPO / "bitstream" / "vectors" / "v2" / "gradient_32x24_q2"

DECODE = """
import importlib.util, json, sys, time
import numpy as np
started = time.perf_counter()
import inrcodec, inrcodec.pillow, PIL.Image
pixels = inrcodec.decode(sys.argv[1])
with PIL.Image.open(sys.argv[1]) as image:
    opened = np.asarray(image)
reference = np.asarray(PIL.Image.open(sys.argv[2])).astype(int)
print(json.dumps({
    "api_equals_pillow": bool((pixels == opened).all()),
    "max_difference_to_vector_png": int(np.abs(pixels.astype(int) - reference).max()),
    "seconds": time.perf_counter() - started,
    "loaded_by_decoding": sorted(m for m in ("torch", "scipy", "matplotlib", "av") if m in sys.modules),
    "installed": sorted(m for m in ("torch", "scipy", "matplotlib", "av", "pytorch_msssim", "platformdirs")
                        if importlib.util.find_spec(m)),
}))
"""


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, check=True, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        env_dir = folder / "venv"
        started = time.perf_counter()
        venv.create(env_dir, with_pip=True)
        python, inrcodec = str(env_dir / "bin" / "python"), str(env_dir / "bin" / "inrcodec")
        run([python, "-m", "pip", "install", "-q", str(REPO)])  # the core dependencies, no extras
        install_seconds = time.perf_counter() - started
        frozen = run([python, "-m", "pip", "freeze"], text=True).stdout.split()
        models = {"INRCODEC_MODELS_DIR": str(VECTOR.parent / "models"), "PATH": str(env_dir / "bin")}
        decoded = json.loads(run([python, "-c", DECODE, f"{VECTOR}.inr", f"{VECTOR}.png"], env=models, text=True,
                                 cwd=folder).stdout)  # fmt: skip
        # the pipeline of the issue, with the shipped model, against the file-to-file commands
        sample = REPO / "samples" / "parrots.png"
        shipped = {"PATH": str(env_dir / "bin")}
        encoded = run([inrcodec, "encode", "-", "-o", "-", "--preset", "fast"], input=sample.read_bytes(),
                      env=shipped).stdout  # fmt: skip
        piped = run([inrcodec, "decode", "-", "-o", "-"], input=encoded, env=shipped).stdout
        run([inrcodec, "encode", str(sample), "-o", str(folder / "a.inr"), "--preset", "fast"], env=shipped)
        run([inrcodec, "decode", str(folder / "a.inr"), "-o", str(folder / "a.png")], env=shipped)
        same_file = (folder / "a.inr").read_bytes() == encoded
        same_pixels = subprocess.run(
            [python, "-c", "import sys, numpy as np, PIL.Image, io; a = np.asarray(PIL.Image.open(sys.argv[1])); "
             "b = np.asarray(PIL.Image.open(io.BytesIO(sys.stdin.buffer.read()))); print(bool((a == b).all()))",
             str(folder / "a.png")], input=piped, capture_output=True, check=True).stdout.decode().strip()  # fmt: skip
    result = {
        "command": "python eval/check_install.py --out " + str(options.out),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "install": "pip install . (no extras) into a fresh venv",
        "install_seconds": round(install_seconds, 1),
        "installed_packages": frozen,
        "decode_vector": decoded,
        "pipeline": {"same_inr_bytes_as_file_encode": same_file, "same_pixels_as_file_decode": same_pixels == "True"},
    }
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("install_seconds", "decode_vector", "pipeline")}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
