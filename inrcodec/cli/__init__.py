"""The `inrcodec` command line: encode, decode, info, models, meta-train and rd-curve. Thin: the work is in api.py.

Importing this package stays cheap (no torch): the codec is imported inside the commands that need them.
Every problem a user can cause ends as one line `error: ...` on stderr and exit status 1 (130 for Ctrl-C).
"""

from __future__ import annotations

from inrcodec.cli import codec, models, rd  # noqa: F401  (each registers its commands on the app)
from inrcodec.cli.app import app
from inrcodec.cli.common import EXIT_INTERRUPTED, Preset
from inrcodec.runtime import tune_process

__all__ = ["EXIT_INTERRUPTED", "Preset", "app", "main"]


def main() -> None:
    tune_process()  # before torch is imported (README "Usage")
    app(prog_name="inrcodec")
