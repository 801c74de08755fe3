"""What every command shares: one error policy, JSON output, the fit progress bar, and option parsing.

Every problem a user can cause ends as one line `error: ...` on stderr and exit status 1 (130 for Ctrl-C).
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Iterator

import typer

from inrcodec.errors import InrCodecError
from inrcodec.presets import QUALITY_LAMBDAS

JSON_HELP = "Print one JSON object with the results on stdout."


EXIT_ERROR = 1


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print nothing on stderr but errors (no progress, no summary).")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Print more on stderr: settings and timings.")]


@dataclass(frozen=True)
class Voice:
    """Where the lines for people go: stderr (stdout is for --json and for '-' outputs); nothing but errors with
    --quiet, more with --verbose."""

    quiet: bool = False
    verbose: bool = False

    def say(self, text: str) -> None:
        if not self.quiet:
            typer.echo(text, err=True)

    def detail(self, text: str) -> None:
        if self.verbose and not self.quiet:
            typer.echo(text, err=True)


class Preset(str, Enum):
    fast = "fast"
    medium = "medium"
    slow = "slow"


def naming_file(path: Path, function: Callable, *args):
    """Call function(*args); prefix the message of an InrCodecError with the file it is about."""
    try:
        return function(*args)
    except InrCodecError as exc:
        raise type(exc)(f"{str(path)!r}: {exc}") from None


@contextmanager
def command_errors() -> Iterator[None]:
    """Turn user-caused failures into one `error:` line on stderr and a non-zero exit, without a traceback."""
    try:
        yield
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    except (InrCodecError, MemoryError, OSError) as exc:
        fail(error_text(exc))


@dataclass(frozen=True)
class Failed:
    """What `attempt` returns for a file of a batch that failed: its one-line message."""

    message: str


def attempt(function: Callable, *args):
    """function(*args), or Failed(message) for a user-caused failure (the batch goes on with the next file)."""
    try:
        return function(*args)
    except (InrCodecError, MemoryError, OSError) as exc:
        return Failed(" ".join(error_text(exc).split()))


def error_text(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return "not enough memory"
    if isinstance(exc, OSError):
        return os_error_message(exc)
    return str(exc)


def fail(message: str, code: int = EXIT_ERROR) -> None:
    # typer.echo, not rich: rich would wrap long lines and eat "[...]" as markup.
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


def os_error_message(exc: OSError) -> str:
    if exc.strerror and exc.filename:
        return f"{str(exc.filename)!r}: {exc.strerror}"
    return exc.strerror or str(exc) or type(exc).__name__


@contextmanager
def fit_progress(total_steps: int, shown: bool = True) -> Iterator[Callable[[int, dict], None]]:
    """A rich progress bar on stderr (only on a terminal, and if shown); yields the codec's progress callback."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("PSNR {task.fields[psnr]:.2f} dB"),
        TextColumn("est. {task.fields[bpp]:.3f} bpp"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not (shown and console.is_terminal),
    )
    task = progress.add_task("fitting", total=total_steps, psnr=0.0, bpp=0.0)

    def on_step(step: int, metrics: dict) -> None:
        done = step + 1
        description = "quantising and checking" if done >= total_steps else "fitting"
        progress.update(task, completed=done, description=description, psnr=metrics["psnr"], bpp=metrics["bpp"])

    with progress:
        yield on_step


def print_json(values: dict) -> None:
    """One JSON object on stdout; infinite floats (PSNR of a lossless result) become null to stay valid JSON."""
    typer.echo(json.dumps({key: finite_or_none(value) for key, value in values.items()}, allow_nan=False))


def finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def choices(text: str, allowed: list[str] | None, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InrCodecError(f"no {what} given")
    if allowed is not None:
        for item in items:
            if item not in allowed:
                raise InrCodecError(f"unknown {what} {item!r}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(items))


def quality_level(text: str) -> int:
    if not text.isdigit() or int(text) not in QUALITY_LAMBDAS:
        raise InrCodecError(f"quality {text!r} is not one of {', '.join(map(str, QUALITY_LAMBDAS))}")
    return int(text)
