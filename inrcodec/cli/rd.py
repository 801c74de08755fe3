"""`inrcodec rd-curve`: rate-distortion curves on a dataset or a clip (the work is in inrcodec/rd/)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer

from inrcodec.cli.app import app
from inrcodec.cli.common import JSON_HELP, Preset, choices, command_errors, print_json, quality_level
from inrcodec.errors import InrCodecError
from inrcodec.extras import require
from inrcodec.presets import DEFAULT_MODEL, DEFAULT_PRESET, QUALITY_LAMBDAS

@app.command("rd-curve")
def rd_curve(
    dataset: Annotated[
        Optional[str],
        typer.Option(help="'kodak' (the default; found locally or downloaded) or a folder of images."),
    ] = None,
    video: Annotated[
        Optional[Path],
        typer.Option("--video", help="Measure video codecs on this clip instead of a dataset: a frame folder, .y4m, "
                     ".mp4, .mkv, ... (codecs inrcodec, inrcodec-image, x264, x265, x264-gop16; default --out "
                     "eval/results/video/<clip name>)."),
    ] = None,
    data_dir: Annotated[
        Optional[Path],
        typer.Option("--data-dir", help="Folder holding kodim01.png ... kodim24.png (default: $INRCODEC_DATA_DIR, "
                     "then the user cache, downloading there when online)."),
    ] = None,
    out: Annotated[
        Optional[Path], typer.Option("--out", help="Results folder (default: rd-<dataset>); a rerun resumes it.")
    ] = None,
    preset: Annotated[
        str, typer.Option(help="inrcodec preset(s), comma-separated: fast, medium (the encode default), slow; "
                          "or 'none' (baselines only); one with --video.")
    ] = DEFAULT_PRESET,
    image_preset: Annotated[
        Optional[str], typer.Option("--image-preset", help="With --video: inrcodec-image's preset (default: --preset).")
    ] = None,
    qualities: Annotated[
        Optional[str],
        typer.Option("--qualities", "--quality",
                     help="inrcodec quality levels, comma-separated, 1..8 (default: all; 1,3,5,7 with --video)."),
    ] = None,
    model: Annotated[str, typer.Option(help="Image model id, or 'default'.")] = DEFAULT_MODEL,
    codecs: Annotated[
        Optional[str],
        typer.Option(help="Live baselines, comma-separated: jpeg, webp, avif, jpeg2000, jxl, heic (4:4:4), heic420 "
                     "(the default: all); or 'none'. "
                     "With --video: inrcodec, inrcodec-image, x264, x265, x264-gop16 (x264 with a keyframe every "
                     "16 frames, inrcodec's random access; default: all five)."),
    ] = None,
    images: Annotated[
        Optional[str], typer.Option(help="Only these images (comma-separated names without extension).")
    ] = None,
    anchors: Annotated[
        bool, typer.Option("--anchors/--no-anchors", help="Compare with published curves (full Kodak set only).")
    ] = True,
    tile: Annotated[
        Optional[int], typer.Option("--tile", help="inrcodec's tiles in pixels, as `encode --tile` (0: untiled; "
                                    "default: encode's default). Names the rows inrcodec-PRESET-tileN.")
    ] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Worker processes (images in parallel).")] = 1,
    threads: Annotated[
        Optional[int], typer.Option(min=1, help="torch threads per job (default: CPUs / jobs). Bytes depend on it.")
    ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Discard this run's codecs' earlier results in --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Measure rate-distortion curves against other codecs.

    inrcodec and live baselines on a dataset, BD-rates, and a plot.

    Every bpp comes from encoded bytes and every PSNR / MS-SSIM from the decoded 8-bit image. Writes to --out,
    per codec, <codec>.json (CompressAI schema with a meta block) and <codec>.csv (per image), and for the whole
    folder bd_rates.md/.json, curves.md and rd.png/.svg. Interrupted runs resume from what was measured.

    With --video PATH: inrcodec's video codec, its image codec frame by frame, x264 and x265 (CRF sweep, preset
    medium, yuv420p) on one clip; PSNR-RGB and PSNR-YUV (BT.601 limited, 4:2:0, 6:1:1) averaged over frames.
    """
    if video is not None:
        with command_errors():
            if dataset is not None or data_dir is not None or images is not None or jobs > 1:
                raise InrCodecError("--video measures one clip: it cannot be combined with --dataset, --data-dir, "
                                    "--images or --jobs")
        rd_curve_video(video, out, preset, image_preset, qualities, model, codecs, threads, fresh, as_json)
        return
    with command_errors():
        for module in ("scipy", "matplotlib", "pytorch_msssim"):
            require(module, "rd-curve")
    dataset = dataset or "kodak"
    codecs = codecs or "jpeg,webp,avif,jpeg2000,jxl,heic,heic420"
    qualities = qualities or ",".join(map(str, QUALITY_LAMBDAS))
    with command_errors():
        from inrcodec.rd import codecs as rdcodecs
        from inrcodec.rd import curve as rdcurve
        from inrcodec.rd import report as rdreport
        from inrcodec.rd.anchors import published_anchors
        from inrcodec.rd.datasets import resolve_dataset

        presets = [] if preset.strip().lower() == "none" else choices(preset, [p.value for p in Preset], "preset")
        levels = [quality_level(text) for text in choices(qualities, None, "quality")]
        baselines = [] if codecs.strip().lower() == "none" else rdcodecs.baseline_codecs(choices(codecs, None, "codec"))
        from inrcodec.api import resolve_model

        resolve_model(model)
        if tile is not None:
            from inrcodec.api import tile_log2_for

            tile_log2_for(tile)
        inr = [rdcodecs.inrcodec_codec(p, model, tile=tile) for p in presets]
        data = resolve_dataset(dataset, data_dir, on_download=lambda url: typer.echo(f"downloaded {url}", err=True))
        folder = out or Path(f"rd-{data.name}")
        wanted = {c.name: c.qualities for c in baselines} | {c.name: tuple(levels) for c in inr}
        subset = choices(images, None, "image") if images else None
        with rd_progress() as (on_start, on_row):
            summaries = rdcurve.run(data, baselines + inr, folder, wanted, jobs=jobs, threads=threads, fresh=fresh,
                                    command=rdcurve.command_line(), images=subset, on_start=on_start, on_row=on_row)
        curves = rdreport.curves_in(folder, data.name)
        if anchors and data.name == "kodak" and not subset:
            curves += published_anchors("kodak")
        rows = rdreport.bd_table(curves)
        meta = next(iter(summaries.values()))["meta"] if summaries else {}
        run_facts = {key: meta.get(key) for key in ("command", "hardware", "threads", "date")}
        written = rdreport.write_bd_files(rows, folder, data.name, run_facts)
        if any(c.kind == "inrcodec" for c in curves):  # curves_in keeps only curves of 2 points or more
            written += rdreport.plot(curves, folder, f"{data.name}: {len(subset or data.images)} images")
    if as_json:
        print_json({"out": str(folder), "dataset": data.name, "images": len(subset or data.images),
                    "curves": {name: s["results"] for name, s in summaries.items()}, "bd_rates": rows})
        return
    from rich.console import Console

    Console().print(rdreport.rich_table(rows, data.name))
    typer.echo(f"results in {folder}: " + ", ".join(p.name for p in written))


def rd_curve_video(video: Path, out: Path | None, preset: str, image_preset: str | None, qualities: str | None,
                   model: str, codecs: str | None, threads: int | None, fresh: bool, as_json: bool) -> None:
    """`rd-curve --video`: measure the video codecs on one clip, then BD-rates and the plot (rdvideo.py)."""
    from inrcodec.rd import curve as rdcurve
    from inrcodec.rd import video as rdvideo
    from inrcodec.rd import video_report as rdvideoresults

    with command_errors():
        for module in ("scipy", "matplotlib", "av"):
            require(module, "rd-curve --video")
        presets = [choices(text, [p.value for p in Preset], "preset") for text in (preset, image_preset or preset)]
        if any(len(chosen) > 1 for chosen in presets):
            raise InrCodecError("--video takes one --preset (and one --image-preset)")
        levels = [quality_level(text) for text in choices(qualities or ",".join(map(str, rdvideo.DEFAULT_QUALITIES)),
                                                            None, "quality")]
        names = choices(codecs or ",".join(rdvideoresults.CODEC_NAMES), None, "codec")
        chosen_model = None if model.lower() == "none" else model
        chosen = rdvideo.video_codecs(names, levels, presets[0][0], presets[1][0], chosen_model)
        clip = rdvideo.open_clip(video)
        folder = out or rdvideo.default_out(clip)
        with rd_progress(rdvideo.row_text) as (on_start, on_row):
            summaries = rdvideo.run(clip, chosen, folder, threads=threads, fresh=fresh,
                                    command=rdcurve.command_line(), on_start=on_start, on_row=on_row)
        meta = next(iter(summaries.values()))["meta"]
        facts = {key: meta.get(key) for key in ("command", "hardware", "date", "clip_path", "fps")}
        rows, written = rdvideoresults.report(folder, clip, facts)
    if as_json:
        print_json({"out": str(folder), "clip": str(video), "frames": clip.frames, "width": clip.width,
                    "height": clip.height, "curves": {name: s["results"] for name, s in summaries.items()},
                    "bd_rates": rows})
        return
    from rich.console import Console

    Console().print(rdvideoresults.rich_table(rows, clip))
    typer.echo(f"results in {folder}: " + ", ".join(p.name for p in written))


@contextmanager
def rd_progress(describe_row: Callable[[dict], str] | None = None) -> Iterator[tuple[Callable, Callable]]:
    """One progress bar per codec with ETA on a terminal; otherwise one line per measurement (for logs).

    describe_row: a measured row as text (default: image, quality, bpp and PSNR of a dataset row)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description:<16}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
        TimeRemainingColumn(), console=console, disable=not console.is_terminal,
    )
    tasks: dict[str, int] = {}

    def on_start(counts: dict[str, tuple[int, int]]) -> None:
        for name, (done, total) in counts.items():
            tasks[name] = progress.add_task(name, total=total, completed=done, last="")
            if not console.is_terminal and done:
                typer.echo(f"{name}: {done}/{total} already measured (resuming)", err=True)

    def on_row(name: str, row: dict) -> None:
        text = describe_row(row) if describe_row else (
            f"{row['image']} q={row['quality']:g}: {row['bpp']:.3f} bpp, {row['psnr_rgb']:.2f} dB")
        progress.update(tasks[name], advance=1, last=text)
        if not console.is_terminal:
            task = progress.tasks[tasks[name]]
            typer.echo(f"{name} [{task.completed:.0f}/{task.total:.0f}] {text}, encode {row['encoding_time']:.3f} s, "
                       f"decode {row['decoding_time']:.3f} s", err=True)

    with progress:
        yield on_start, on_row
