"""Optional dependencies: a missing one is a one-line error that names the `pip install` to run.

The core install (numpy, Pillow, constriction, safetensors, typer, rich, torch) encodes and decodes images;
[video] adds PyAV for clips, [eval] what rd-curve needs (scipy, matplotlib, pytorch-msssim, platformdirs and
the JPEG XL and HEIC plugins of Pillow).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from inrcodec.errors import InrCodecError

# module -> (PyPI distribution, extra that installs it)
OPTIONAL = {
    "av": ("av", "video"),
    "scipy": ("scipy", "eval"),
    "matplotlib": ("matplotlib", "eval"),
    "pytorch_msssim": ("pytorch-msssim", "eval"),
    "platformdirs": ("platformdirs", "eval"),
    "pillow_jxl": ("pillow-jxl-plugin", "eval"),
    "pillow_heif": ("pillow-heif", "eval"),
}


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional module; InrCodecError naming the extra to install when it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError:
        distribution, extra = OPTIONAL[module]
        raise InrCodecError(
            f"{purpose} needs the package {distribution}, which is not installed: pip install 'inrcodec[{extra}]'"
        ) from None
