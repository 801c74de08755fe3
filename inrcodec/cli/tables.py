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


def print_header_tables(header: dict) -> None:
    """The `info` description of an image file as rich tables on stdout: file and image, latent grids."""
    from rich.console import Console
    from rich.table import Table

    image = header["image"]
    summary = Table(title=header["file"], show_header=False)
    for key, value in (
        ("format version", header["format_version"]),
        ("image", f"{header['box'][2]}x{header['box'][3]}, {'grey' if image['channels'] == 1 else 'RGB'}, "
                  f"{image['bit_depth']}-bit" + ("" if header["box"][2:] == [image["width"], image["height"]]
                                                 else f", a box of a {image['width']}x{image['height']} canvas")),
        ("rate code", f"{image['rate_code']} (lambda {header['lambda']:.4g})"),
        ("model", header["model_id"]),
        ("model sha256", header["model_sha256"]),
        ("file bytes", header["file_bytes"]),
        ("payload bytes", header["payload_bytes"]),
        ("modulation", f"{header['modulation_numbers']} numbers (MODU)" if header["modulation_numbers"] else "none"),
        ("tiles", f"{header['tiles']} of {header['tile_side']} px, box {','.join(map(str, header['box']))}"
                  if header["tiles"] else "none (one stream)"),
        ("bpp", f"{header['bpp']:.4f}"),
    ):  # fmt: skip
        summary.add_row(key, str(value))
    grids = Table(title=f"latent grids ({header['latents']} latents)")
    for column in ("level", "pixels per vertex", "grid"):
        grids.add_column(column, justify="right")
    for grid in header["latent_grids"]:
        step = 1 << grid["level"]
        grids.add_row(str(grid["level"]), f"{step}x{step}", f"{grid['width']}x{grid['height']}")
    console = Console(highlight=False)
    for table in (summary, grids):
        console.print(table, markup=False)


def print_video_header(header: dict) -> None:
    """Tables for `info` on a video file (format 2.3 - 2.5, or 1.2)."""
    from rich.console import Console
    from rich.table import Table

    if header["format_version"].startswith("2."):
        summary = Table(title="video .inr file")
        summary.add_column("field")
        summary.add_column("value")
        image, kinds = header["image"], "".join(f["kind"] for f in header["frames"])
        fps = "{}/{}".format(*header["fps"]) if header["fps"] else "unknown"
        for key, value in (
            ("format version", header["format_version"]),
            ("frame size", f"{image['width']}x{image['height']}, 8-bit RGB"),
            ("frames", f"{header['frame_count']} at {fps} fps, groups of {header['group']}"),
            ("frame kinds", f"{kinds.count('I')} I, {kinds.count('P')} P, {kinds.count('B')} B"),
            ("rate code", f"{image['rate_code']} (lambda {header['lambda']:.3g})"),
            ("model", f"{header['model_id']} ({header['model_sha256'][:16]}...)"),
            ("file bytes", header["file_bytes"]),
            ("bpp", f"{header['bpp']:.4f}"),
        ):
            summary.add_row(key, str(value))
        frames = Table(title="frames in coding order")
        for column in ("frame", "kind", "references", "intra levels", "bytes", "motion bytes", "temporal context"):
            frames.add_column(column, justify="right")
        for frame in header["frames"]:
            # SPEC 10.5 and 10.6: the residual's scale offsets (2.4), the intra levels' mix (2.5)
            context = [name for name, key in (("offsets", "scale_offsets"), ("mix", "temporal_mix")) if frame[key]]
            frames.add_row(str(frame["index"]), frame["kind"], ",".join(map(str, frame["references"])) or "-",
                           str(frame["intra_levels"]), str(frame["bytes"]), str(frame["motion_bytes"]),
                           "+".join(context) or "-")  # fmt: skip
        console = Console()
        console.print(summary)
        console.print(frames)
        return

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
