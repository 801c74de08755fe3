"""Tables and header descriptions for people: what `inrcodec info` and `inrcodec models` print.

Presentation only (rich, imported inside the functions so that `inrcodec --help` stays fast).
"""

from __future__ import annotations

from pathlib import Path

def print_models_table(root: Path, entries: list) -> None:
    """The installed models as a rich table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"models in {root}")
    for column in ("id", "default", "sha256", "config"):
        table.add_column(column)
    table.add_column("card", overflow="fold")  # a path cut short by an ellipsis would be useless
    for entry in entries:
        table.add_row(
            entry.id,
            "yes" if entry.is_default else "",
            entry.sha256[:12],
            config_summary(entry.config),
            str(entry.card) if entry.card else "-",
        )
    if not entries:
        table.caption = "(the manifest lists no models)"
    Console(highlight=False).print(table, markup=False)


def config_summary(config: dict, limit: int = 60) -> str:
    """A model config in one short line, `key=value, ...`; nested objects as dotted keys; cut at `limit`."""

    def items(values: dict, prefix: str = ""):
        for key, value in values.items():
            if isinstance(value, dict):
                yield from items(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}={value:g}" if isinstance(value, float) else f"{prefix}{key}={value}"

    summary = ", ".join(items(config))
    return summary if len(summary) <= limit else summary[: limit - 3] + "..."


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
        "modulation": dict(inr.modulation) if inr.modulation is not None else None,
        "payload_bytes": len(inr.payload),
    }


def print_header_tables(header: dict) -> None:
    """The `info` description as rich tables on stdout: file and image, field config, levels, MLP layers (in a
    self-contained file)."""
    from rich.console import Console

    console = Console(highlight=False)
    tables = [_summary_table(header), _config_table(header), _levels_table(header)]
    if header["layers"]:
        tables.append(_layers_table(header))
    for table in tables:
        console.print(table, markup=False)


def _summary_table(header: dict):
    from rich.table import Table

    image = header["image"]
    table = Table(title=header["file"], show_header=False)
    for key, value in (
        ("format version", header["format_version"]),
        ("image", f"{image['width']}x{image['height']}, {image['channels']} channels, {image['bit_depth']}-bit"),
        ("model", header["model_id"] or "(none: self-contained, the file carries its MLP)"),
        ("model sha256", header["model_sha256"] or "-"),
        ("modulation", _modulation_text(header["modulation"])),
        ("file bytes", header["file_bytes"]),
        ("payload bytes", header["payload_bytes"]),
        ("bpp", f"{header['bpp']:.4f}"),
    ):
        table.add_row(key, str(value))
    return table


def _modulation_text(modulation: dict | None) -> str:
    if modulation is None:
        return "-"
    return f"rank {modulation['rank']} x {modulation['n_inputs']} inputs, table {_table_name(modulation['table'])}"


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


def print_video_header(header: dict) -> None:
    """Tables for `info` on a video file."""
    from rich.console import Console
    from rich.table import Table

    summary = Table(title="video .inr file")
    summary.add_column("field")
    summary.add_column("value")
    video, image = header["video"], header["image"]
    fps = f"{video['fps_num']}/{video['fps_den']}" if video["fps_num"] else "unknown"
    kinds = [f["kind"] for f in header["frames"]]
    for key, value in (
        ("format version", header["format_version"]),
        ("frame size", f"{image['width']}x{image['height']}, {image['bit_depth']}-bit RGB"),
        ("frames", f"{video['frame_count']} at {fps} fps"),
        ("groups", f"{header['groups']} of up to {video['gop_size']} frames"),
        ("frame kinds", f"{kinds.count('grid')} grids, {kinds.count('residual')} residuals"),
        ("model", f"{header['model_id']} ({header['model_sha256'][:16]}...)"),
        ("file bytes", header["file_bytes"]),
        ("bpp", f"{header['bpp']:.4f}"),
    ):
        summary.add_row(key, str(value))
    levels = Table(title="grid levels")
    for column in ("level", "scale", "res", "extent", "quant step"):
        levels.add_column(column, justify="right")
    for level in header["levels"]:
        levels.add_row(
            str(level["index"]),
            f"{level['scale']:.7g}",
            str(level["res"]),
            f"{level['extent_x']}x{level['extent_y']}",
            f"{level['quant_step']} ({level['quant_step_value']:.4g})",
        )
    console = Console()
    console.print(summary)
    console.print(levels)
