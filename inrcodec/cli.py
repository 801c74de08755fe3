"""The `inrcodec` command line: encode, decode and info. Thin: the work is in codec.py and media.py.

Importing this module stays cheap (no torch): the codec is imported inside the commands that need it.
Every problem a user can cause ends as one line `error: ...` on stderr and exit status 1 (130 for Ctrl-C).
"""

from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer

import inrcodec
from inrcodec.errors import InrCodecError
from inrcodec.presets import DEFAULT_PRESET, DEFAULT_QUALITY, PRESET_STEPS, QUALITY_LAMBDAS
from inrcodec.media import (
    atomic_write_bytes,
    check_output_path,
    image_format_for_path,
    read_bytes,
    read_image,
    write_image,
)

JSON_HELP = "Print one JSON object with the results on stdout."
EXIT_ERROR = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


class Preset(str, Enum):
    fast = "fast"
    medium = "medium"
    slow = "slow"


app = typer.Typer(
    name="inrcodec",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals of a failed fit hold whole tensors
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _quality_help() -> str:
    lambdas = ", ".join(f"{q}: {lam:g}" for q, lam in QUALITY_LAMBDAS.items())
    return (
        "Quality 1..8; higher is a better image and a bigger file. Each quality is a rate-distortion weight "
        f"lambda (bits per pixel against MSE on [0, 1] RGB): {lambdas}."
    )


def _preset_help() -> str:
    steps = ", ".join(f"{name}: {n} steps" for name, n in PRESET_STEPS.items())
    return f"Encoder effort, as fit steps ({steps}). Wall times per image are measured in README.md."


def _print_version(value: bool) -> None:
    if value:
        from inrcodec.bitstream.container import FORMAT_MAJOR, FORMAT_MINOR

        typer.echo(f"inrcodec {inrcodec.__version__} (.inr format {FORMAT_MAJOR}.{FORMAT_MINOR})")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """A neural image codec: stores an image as the entropy-coded parameters of a small neural field (.inr)."""


@app.command()
def encode(
    input_path: Annotated[
        Path, typer.Argument(metavar="INPUT", help="Image to encode (PNG, JPEG, ...; 8-bit RGB or grey).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The .inr file to write.")],
    quality: Annotated[int, typer.Option("--quality", "-q", min=1, max=8, help=_quality_help())] = DEFAULT_QUALITY,
    preset: Annotated[Preset, typer.Option(help=_preset_help())] = Preset(DEFAULT_PRESET),
    steps: Annotated[Optional[int], typer.Option(min=1, help="Fit steps, overriding the preset's.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUTPUT if it exists.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Encode an image to a .inr file.

    Bytes, bpp and PSNR are measured by decoding the file just written. Progress goes to stderr.
    """
    with command_errors():
        check_output_path(output, force, input_path)
        rgb = read_image(input_path)
        from inrcodec.codec import encode_image

        total_steps = steps if steps is not None else PRESET_STEPS[preset.value]
        with fit_progress(total_steps) as on_step:
            result = encode_image(rgb, quality=quality, preset=preset.value, steps=steps, progress=on_step)
        atomic_write_bytes(output, result.data)
    stats = {**result.stats, "input": str(input_path), "output": str(output)}
    if json_output:
        print_json(stats)
    else:
        typer.echo(
            f"{output}: {stats['bytes']} bytes, {stats['bpp']:.4f} bpp, PSNR {stats['psnr_rgb']:.2f} dB "
            f"({stats['width']}x{stats['height']}, quality {quality}, {stats['steps']} steps, "
            f"{stats['encode_seconds']:.1f} s)"
        )


@app.command()
def decode(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="The .inr file to decode.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Image to write; format from the extension (.png).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUTPUT if it exists.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Decode a .inr file to an 8-bit RGB image."""
    with command_errors():
        check_output_path(output, force, input_path)
        image_format_for_path(output)  # an unknown extension should fail before the decode, not after
        data = read_bytes(input_path)
        from inrcodec.codec import decode_bytes

        start = time.perf_counter()
        rgb = naming_file(input_path, decode_bytes, data)
        decode_seconds = time.perf_counter() - start
        write_image(output, rgb)
    height, width = rgb.shape[:2]
    result = {
        "input": str(input_path),
        "output": str(output),
        "bytes": len(data),
        "bpp": len(data) * 8 / (width * height),
        "width": width,
        "height": height,
        "decode_seconds": decode_seconds,
    }
    if json_output:
        print_json(result)
    else:
        typer.echo(
            f"{output}: {width}x{height} from {len(data)} bytes ({result['bpp']:.4f} bpp), {decode_seconds:.2f} s"
        )


@app.command()
def info(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="The .inr file to describe.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, not tables.")] = False,
) -> None:
    """Show the header of a .inr file: version, image, model, field config, per-level and per-layer records."""
    with command_errors():
        data = read_bytes(input_path)
        from inrcodec.bitstream.image_file import InrFile

        header = describe_file(naming_file(input_path, InrFile.from_bytes, data), data, input_path)
    if json_output:
        print_json(header)
    else:
        print_header_tables(header)


def describe_file(inr, data: bytes, path: Path) -> dict:
    """A JSON-ready description of a parsed InrFile."""
    from inrcodec.bitstream.syntax import quant_step

    width, height = inr.image["width"], inr.image["height"]
    levels = [
        {
            "index": index,
            **level,
            "kind": "dense" if level["extent_x"] else "hashed",  # the syntax gives hashed levels no extent
            "quant_step_value": quant_step(level["quant_step"]),
        }
        for index, level in enumerate(inr.levels)
    ]
    layers = [
        {
            "index": index,
            **layer,
            "weight_step_value": quant_step(layer["weight_step"]),
            "bias_step_value": quant_step(layer["bias_step"]),
        }
        for index, layer in enumerate(inr.layers)
    ]
    return {
        "file": str(path),
        "file_bytes": len(data),
        "bpp": len(data) * 8 / (width * height),
        "format_version": "{}.{}".format(*inr.version),
        "image": dict(inr.image),
        "model_id": inr.model_id,
        "model_sha256": inr.model_sha256.hex(),
        "field_config": dict(inr.field_config),
        "levels": levels,
        "layers": layers,
        "payload_bytes": len(inr.payload),
    }


def print_header_tables(header: dict) -> None:
    """The `info` description as rich tables on stdout: file and image, field config, levels, layers."""
    from rich.console import Console

    console = Console(highlight=False)
    for table in (_summary_table(header), _config_table(header), _levels_table(header), _layers_table(header)):
        console.print(table, markup=False)


def _summary_table(header: dict):
    from rich.table import Table

    image = header["image"]
    table = Table(title=header["file"], show_header=False)
    for key, value in (
        ("format version", header["format_version"]),
        ("image", f"{image['width']}x{image['height']}, {image['channels']} channels, {image['bit_depth']}-bit"),
        ("model", header["model_id"] or "(none: built-in initialisation)"),
        ("model sha256", header["model_sha256"] or "-"),
        ("file bytes", header["file_bytes"]),
        ("payload bytes", header["payload_bytes"]),
        ("bpp", f"{header['bpp']:.4f}"),
    ):
        table.add_row(key, str(value))
    return table


def _config_table(header: dict):
    from rich.table import Table

    table = Table(title="field config")
    table.add_column("field")
    table.add_column("value", justify="right")
    for key, value in header["field_config"].items():
        table.add_row(key, f"{value:g}" if isinstance(value, float) else str(value))
    return table


def _levels_table(header: dict):
    from rich.table import Table

    table = Table(title="grid levels")
    for column in ("level", "kind", "scale", "res", "extent", "quant step", "tables"):
        table.add_column(column, justify="right")
    for level in header["levels"]:
        extent = f"{level['extent_x']}x{level['extent_y']}" if level["kind"] == "dense" else "-"
        table.add_row(
            str(level["index"]),
            level["kind"],
            f"{level['scale']:.7g}",
            str(level["res"]),
            extent,
            f"{level['quant_step']} ({level['quant_step_value']:.4g})",
            " ".join(map(_table_name, level["tables"])),
        )
    return table


def _layers_table(header: dict):
    from rich.table import Table

    table = Table(title="MLP layers")
    for column in ("layer", "weight step", "weight table", "bias step", "bias table"):
        table.add_column(column, justify="right")
    for layer in header["layers"]:
        table.add_row(
            str(layer["index"]),
            f"{layer['weight_step']} ({layer['weight_step_value']:.4g})",
            _table_name(layer["weight_table"]),
            f"{layer['bias_step']} ({layer['bias_step_value']:.4g})",
            _table_name(layer["bias_table"]),
        )
    return table


def _table_name(table_index: int) -> str:
    """An entropy table index for people: the all-zero marker by name, Laplace tables by number."""
    from inrcodec.entropy import ALL_ZERO

    return "zero" if table_index == ALL_ZERO else str(table_index)


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
    except InrCodecError as exc:
        fail(str(exc))
    except MemoryError:
        fail("not enough memory")
    except OSError as exc:
        fail(os_error_message(exc))
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)


def fail(message: str, code: int = EXIT_ERROR) -> None:
    # typer.echo, not rich: rich would wrap long lines and eat "[...]" as markup.
    typer.echo(f"error: {' '.join(message.split())}", err=True)
    raise typer.Exit(code)


def os_error_message(exc: OSError) -> str:
    if exc.strerror and exc.filename:
        return f"{str(exc.filename)!r}: {exc.strerror}"
    return exc.strerror or str(exc) or type(exc).__name__


@contextmanager
def fit_progress(total_steps: int) -> Iterator[Callable[[int, dict], None]]:
    """A rich progress bar on stderr (shown only on a terminal); yields the codec's progress callback."""
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
        disable=not console.is_terminal,
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


def main() -> None:
    app(prog_name="inrcodec")
