"""The `inrcodec` command line: encode, decode, info, models, meta-train and rd-curve. Thin: the work is in codec.py, media.py and models.py.

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
from inrcodec.video.cli import (
    decode_clip,
    describe_video,
    echo_encoded,
    encode_clip,
    is_video_input,
)
from inrcodec.cli_tables import describe_file, print_header_tables, print_models_table, print_video_header
from inrcodec.errors import InrCodecError
from inrcodec.runtime import tune_process
from inrcodec.presets import DEFAULT_GOP, DEFAULT_MODEL, DEFAULT_PRESET, DEFAULT_QUALITY, IMAGE_PRESET_STEPS, QUALITY_LAMBDAS
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
    steps = ", ".join(f"{name}: {n}" for name, n in IMAGE_PRESET_STEPS.items())
    return (
        f"Encoder effort: refinement steps after the analysis network's prediction ({steps}). Measured seconds "
        "per Kodak image are in README.md. For a clip, see --gop and README.md."
    )


def _print_version(value: bool) -> None:
    if value:
        from inrcodec.bitstream.image_v2 import FORMAT
        from inrcodec.video.file import VIDEO_MINOR

        image = f"{FORMAT[0]}.{FORMAT[1]}"
        typer.echo(f"inrcodec {inrcodec.__version__} (writes .inr format {image} images and 1.{VIDEO_MINOR} video; "
                   f"reads images 2.0-{image} and video 1.{VIDEO_MINOR})")
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
        Path,
        typer.Argument(
            metavar="INPUT",
            help="Image to encode (PNG, JPEG, ...; 8-bit RGB or grey), or a clip: .y4m, .mp4/.mkv/.mov/.avi/.webm, "
            "or a folder of frames in name order.",
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="The .inr file to write.")],
    quality: Annotated[int, typer.Option("--quality", "-q", min=1, max=8, help=_quality_help())] = DEFAULT_QUALITY,
    preset: Annotated[Preset, typer.Option(help=_preset_help())] = Preset(DEFAULT_PRESET),
    steps: Annotated[Optional[int], typer.Option(min=0, help="Refinement steps, overriding the preset's.")] = None,
    model: Annotated[
        str,
        typer.Option(
            help="Installed model to encode images with (see `inrcodec models`); 'default' = the default model. "
            "Clips are coded with the video model."
        ),
    ] = DEFAULT_MODEL,
    target_bpp: Annotated[
        Optional[float],
        typer.Option(
            "--target-bpp",
            help="Aim at this many bits per pixel (within 5 %) instead of a quality: searches the rate weight with "
            "a few full encodes, so it costs several times one encode.",
        ),
    ] = None,
    gop: Annotated[
        int,
        typer.Option(
            "--gop",
            min=1,
            max=1024,
            help="Video only: frames per group. A group's first frame is coded whole, the others as residuals; "
            "longer groups cost fewer bits, shorter ones decode a single frame faster.",
        ),
    ] = DEFAULT_GOP,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUTPUT if it exists.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Encode an image or a clip to a .inr file.

    Bytes, bpp and PSNR are measured by decoding the file just written (for a clip: mean PSNR over frames,
    bpp over all frames' pixels). Progress goes to stderr. For a clip, --steps sets the fit steps of each frame
    after a group's first.
    """
    with command_errors():
        check_output_path(output, force, input_path)
        if is_video_input(input_path):
            if target_bpp is not None:
                raise InrCodecError("--target-bpp is for images only")
            stats = encode_clip(input_path, quality, preset.value, model, gop, steps)
            atomic_write_bytes(output, stats.pop("data"))
            stats = {**stats, "input": str(input_path), "output": str(output)}
            print_json(stats) if json_output else echo_encoded(output, stats)
            return
        pixels = read_image(input_path, keep_grey=True)
        from inrcodec.api import encode_image, encode_to_bpp, preset_steps

        total_steps = preset_steps(preset.value, steps)
        if target_bpp is not None:
            with fit_progress(total_steps) as on_step:
                result = encode_to_bpp(
                    pixels, target_bpp, preset.value, steps, model, progress=on_step, on_trial=report_trial
                )
            if not result.stats["target_reached"]:
                typer.echo(
                    f"note: {target_bpp:g} bpp is not reachable within 5 %; nearest found: {result.stats['bpp']:.4f} bpp",
                    err=True,
                )
        else:
            with fit_progress(total_steps) as on_step:
                result = encode_image(pixels, quality=quality, preset=preset.value, steps=steps, model=model,
                                      progress=on_step)  # fmt: skip
        atomic_write_bytes(output, result.data)
    stats = {**result.stats, "input": str(input_path), "output": str(output)}
    if json_output:
        print_json(stats)
    else:
        setting = f"target {target_bpp:g} bpp" if target_bpp is not None else f"quality {quality}"
        seconds = stats.get("rate_control_seconds", stats["encode_seconds"])
        typer.echo(
            f"{output}: {stats['bytes']} bytes, {stats['bpp']:.4f} bpp, PSNR {stats['psnr_rgb']:.2f} dB "
            f"({stats['width']}x{stats['height']}, {setting}, {stats['steps']} steps, "
            f"model {stats.get('model') or 'none'}, {seconds:.1f} s)"
        )


def report_trial(trial: dict) -> None:
    """One line on stderr per rate-control trial."""
    typer.echo(f"trial: lambda {trial['lambda']:.3g} -> {trial['bpp']:.4f} bpp, PSNR {trial['psnr_rgb']:.2f} dB", err=True)


@app.command()
def decode(
    input_path: Annotated[Path, typer.Argument(metavar="INPUT", help="The .inr file to decode.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Image to write, format from the extension (.png). For a clip: .mkv (FFV1, lossless RGB), .mp4 "
            "(lossless H.264 RGB), .y4m (4:4:4, BT.601 limited) or a path without extension = a folder of PNG "
            "frames; with --frame, an image.",
        ),
    ],
    frame: Annotated[
        Optional[int],
        typer.Option(
            "--frame", min=0, help="Clips only: decode just this frame (counting from 0) to an image, without "
            "rendering the others."
        ),
    ] = None,
    max_pixels: Annotated[
        int,
        typer.Option("--max-pixels", min=1, help="Refuse images larger than this (a few hundred bytes can claim a "
                     "huge blank image); raise it for files you trust."),
    ] = 1 << 25,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUTPUT if it exists.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Decode a .inr file to an 8-bit image (RGB or grey), or a clip to a video, a folder of frames or one frame."""
    with command_errors():
        data = read_bytes(input_path)
        from inrcodec.video.file import is_video

        if naming_file(input_path, is_video, data):
            if frame is not None or output.suffix:
                check_output_path(output, force, input_path)
            if frame is not None:
                image_format_for_path(output)
            stats = naming_file(input_path, decode_clip, data, output, frame)
            stats = {"input": str(input_path), **stats}
            if json_output:
                print_json(stats)
            else:
                typer.echo(
                    f"{output}: {stats['frames_written']} frame(s) of {stats['width']}x{stats['height']} from "
                    f"{stats['bytes']} bytes ({stats['bpp']:.4f} bpp), {stats['decode_seconds']:.2f} s"
                )
            return
        if frame is not None:
            raise InrCodecError(f"{str(input_path)!r} is an image file; --frame is for clips")
        check_output_path(output, force, input_path)
        image_format_for_path(output)  # an unknown extension should fail before the decode, not after
        from inrcodec.api import decode_image

        start = time.perf_counter()
        rgb = naming_file(input_path, decode_image, data, max_pixels)
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
    """Show the header of a .inr file: version, image, model, and the bytes of its latents."""
    with command_errors():
        data = read_bytes(input_path)
        from inrcodec.video.file import is_video

        if naming_file(input_path, is_video, data):
            header = naming_file(input_path, describe_video, data)
            print_json(header) if json_output else print_video_header(header)
            return
        header = naming_file(input_path, describe_file, data, input_path)
    if json_output:
        print_json(header)
    else:
        print_header_tables(header)


@app.command()
def models(
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, not a table.")] = False,
) -> None:
    """List the installed models.

    A model is the meta-learned weights that encoder and decoder share; a .inr file names the model it needs.

    A .inr file decodes only where its model, with the same id and sha256, is installed.

    Models are found in $INRCODEC_MODELS_DIR if set, else in the folder shipped with the package.
    """
    from inrcodec.model import registry  # the name `models` is this command

    with command_errors():
        root = registry.models_dir()
        entries = registry.list_models()
    default = next((entry.id for entry in entries if entry.is_default), None)
    if json_output:
        described = [
            {
                "id": entry.id,
                "sha256": entry.sha256,
                "file": str(entry.path),
                "config": entry.config,
                "card": str(entry.card) if entry.card else None,
                "default": entry.is_default,
            }
            for entry in entries
        ]
        print_json({"models_dir": str(root), "default": default, "models": described})
    else:
        print_models_table(root, entries)


@app.command("meta-train")
def meta_train(
    data: Annotated[
        list[Path], typer.Option("--data", help="Folder of training images (searched recursively); repeatable.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Model folder to write, e.g. models/NAME; its parent gets MANIFEST.json.")],
    steps: Annotated[int, typer.Option(min=1, help="Training steps (the learning rate decays over the last 15 %).")] = 20000,
    batch: Annotated[int, typer.Option(min=1, help="Crops per step.")] = 4,
    crop: Annotated[int, typer.Option(min=64, help="Side of the square training crops, in pixels.")] = 256,
    seed: Annotated[int, typer.Option(help="Seed of the crops, noise and initial weights.")] = 0,
    inner_steps: Annotated[
        int, typer.Option(min=0, help="Encoder refinement steps per crop inside each training step, so the decoder "
                          "learns on refined latents (first-order; each costs about one more step).")
    ] = 0,
    model_id: Annotated[Optional[str], typer.Option("--id", help="Model id (default: the name of --out).")] = None,
    default: Annotated[bool, typer.Option("--default/--no-default", help="Make it the manifest's default model.")] = True,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from --out/checkpoint.pt.")] = False,
    device: Annotated[str, typer.Option(help="auto (CUDA when present), cpu or cuda.")] = "auto",
    video: Annotated[
        Optional[str],
        typer.Option(
            "--video-from",
            help="Train a video model instead: extend this installed image model (frozen) with the residual step "
            "sizes and rate scales, on synthetic clips made from the --data photos. --steps and --batch apply.",
        ),
    ] = None,
) -> None:
    """Train the shared image model (synthesis, context model, latent gains) and the encoder's analysis network.

    Trains on random crops of the images under --data with the rate-distortion loss over the whole quality
    range, checkpoints every 3 minutes (--resume continues, also with a changed --steps), and writes
    model.safetensors, CARD.md and train_log.jsonl to --out.
    With --video-from MODEL, trains what video frames coded as residuals need on top of MODEL (no checkpoints).
    Train only on images you will not evaluate on.
    """
    with command_errors():
        import torch

        from inrcodec import hardware

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device not in ("cpu", "cuda") or (device == "cuda" and not torch.cuda.is_available()):
            raise InrCodecError(f"device {device!r} is not available (use auto, cpu or cuda)")
        if video is not None:
            train_video_model(data, out, video, steps, batch, seed, model_id, device)
            return
        torch.set_default_device(device)
        from inrcodec.train import image as train_image

        settings = train_image.TrainSettings(steps=steps, batch=batch, crop=crop, seed=seed, inner_steps=inner_steps)
        name = model_id or out.name
        command = " ".join(
            ["inrcodec meta-train", *(f"--data {d}" for d in data), f"--out {out}", f"--steps {steps}",
             f"--batch {batch}", f"--crop {crop}", f"--seed {seed}"]
            + ([f"--inner-steps {inner_steps}"] if inner_steps else []) + (["--resume"] if resume else [])
        )
        with training_progress(steps) as on_step:
            model, final, n_images = train_image.train(data, out, settings, resume=resume, progress=on_step,
                                                       command=command)
        card = train_image.training_card(name, settings, data, n_images, hardware.describe(device), final, steps)
        weights = train_image.export_model(model, out, name, card, default)
    typer.echo(f"{weights}: model {name!r} after {steps} steps ({final['seconds'] / 60:.1f} min of training)")


def train_video_model(
    data: list[Path], out: Path, base_id: str, steps: int, batch: int, seed: int, model_id: str | None, device: str
) -> None:
    """`meta-train --video-from`: learn a video model on top of an installed v1 image model (video/meta.py)."""
    from inrcodec import hardware
    from inrcodec.video import meta as video_meta
    from inrcodec.video.v1.model import load_model

    if device != "cpu":
        raise InrCodecError("video meta-training runs on the CPU only (use --device cpu)")
    base = load_model(base_id)
    settings = video_meta.VideoTrainSettings(steps=steps, batch=batch, seed=seed)
    name = model_id or out.name
    command = " ".join(
        ["inrcodec meta-train", *(f"--data {d}" for d in data), f"--out {out}", f"--video-from {base_id}",
         f"--steps {steps}", f"--batch {batch}", f"--seed {seed}", "--no-default", "--device cpu"]
    )
    with training_progress(steps) as on_step:
        model, final, n_images = video_meta.train_video(data, out, base.model, settings, progress=on_step)
    card = video_meta.video_training_card(
        name, base.entry.id, settings, data, n_images, command, hardware.describe("cpu"), final
    )
    weights = video_meta.export_model(model, out, name, card, default=False)
    typer.echo(f"{weights}: video model {name!r} after {steps} steps ({final['seconds'] / 60:.1f} min)")


@app.command("rd-curve")
def rd_curve(
    dataset: Annotated[
        Optional[str],
        typer.Option(help="'kodak' (the default; found locally or downloaded) or a folder of images."),
    ] = None,
    video: Annotated[
        Optional[Path],
        typer.Option("--video", help="Measure video codecs on this clip instead of a dataset: a frame folder, .y4m, "
                     ".mp4, .mkv, ... (codecs inrcodec, inrcodec-image, x264, x265; default --out "
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
        typer.Option(help="Live baselines, comma-separated: jpeg, webp, avif, jpeg2000 (the default); or 'none'. "
                     "With --video: inrcodec, inrcodec-image, x264, x265 (default: all four)."),
    ] = None,
    images: Annotated[
        Optional[str], typer.Option(help="Only these images (comma-separated names without extension).")
    ] = None,
    anchors: Annotated[
        bool, typer.Option("--anchors/--no-anchors", help="Compare with published curves (full Kodak set only).")
    ] = True,
    jobs: Annotated[int, typer.Option(min=1, help="Worker processes (images in parallel).")] = 1,
    threads: Annotated[
        Optional[int], typer.Option(min=1, help="torch threads per job (default: CPUs / jobs). Bytes depend on it.")
    ] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="Discard this run's codecs' earlier results in --out.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Measure rate-distortion curves: inrcodec and live baselines on a dataset, BD-rates, and a plot.

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
    dataset = dataset or "kodak"
    codecs = codecs or "jpeg,webp,avif,jpeg2000"
    qualities = qualities or ",".join(map(str, QUALITY_LAMBDAS))
    with command_errors():
        from inrcodec import rdcodecs, rdcurve, rdreport
        from inrcodec.anchors import published_anchors
        from inrcodec.datasets import resolve_dataset

        presets = [] if preset.strip().lower() == "none" else _choices(preset, [p.value for p in Preset], "preset")
        levels = [_quality_level(text) for text in _choices(qualities, None, "quality")]
        baselines = [] if codecs.strip().lower() == "none" else rdcodecs.baseline_codecs(_choices(codecs, None, "codec"))
        from inrcodec.api import resolve_model

        resolve_model(model)
        inr = [rdcodecs.inrcodec_codec(p, model) for p in presets]
        data = resolve_dataset(dataset, data_dir, on_download=lambda url: typer.echo(f"downloaded {url}", err=True))
        folder = out or Path(f"rd-{data.name}")
        wanted = {c.name: c.qualities for c in baselines} | {c.name: tuple(levels) for c in inr}
        subset = _choices(images, None, "image") if images else None
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
    from inrcodec import rdcurve, rdvideo, rdvideoresults

    with command_errors():
        presets = [_choices(text, [p.value for p in Preset], "preset") for text in (preset, image_preset or preset)]
        if any(len(chosen) > 1 for chosen in presets):
            raise InrCodecError("--video takes one --preset (and one --image-preset)")
        levels = [_quality_level(text) for text in _choices(qualities or ",".join(map(str, rdvideo.DEFAULT_QUALITIES)),
                                                            None, "quality")]
        names = _choices(codecs or ",".join(rdvideoresults.CODEC_NAMES), None, "codec")
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


def _choices(text: str, allowed: list[str] | None, what: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise InrCodecError(f"no {what} given")
    if allowed is not None:
        for item in items:
            if item not in allowed:
                raise InrCodecError(f"unknown {what} {item!r}; choose from {', '.join(allowed)}")
    return list(dict.fromkeys(items))


def _quality_level(text: str) -> int:
    if not text.isdigit() or int(text) not in QUALITY_LAMBDAS:
        raise InrCodecError(f"quality {text!r} is not one of {', '.join(map(str, QUALITY_LAMBDAS))}")
    return int(text)


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


@contextmanager
def training_progress(total_steps: int) -> Iterator[Callable[[int, dict], None]]:
    """A progress bar on a terminal; otherwise a line on stderr every 50 steps (for logs)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    progress = Progress(
        TextColumn("meta-training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.3f}  PSNR {task.fields[psnr]:.2f} dB  {task.fields[bpp]:.3f} bpp"),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    task = progress.add_task("meta-training", total=total_steps, loss=0.0, psnr=0.0, bpp=0.0)

    def on_step(step: int, metrics: dict) -> None:
        fields = {k: metrics[k] for k in ("loss", "psnr", "bpp")}
        progress.update(task, completed=step + 1, **fields)
        if not console.is_terminal and ((step + 1) % 50 == 0 or step + 1 == total_steps):
            console.print(
                f"step {step + 1}/{total_steps}: loss {fields['loss']:.3f}, PSNR {fields['psnr']:.2f} dB, "
                f"{fields['bpp']:.3f} bpp, {metrics['seconds']:.0f} s",
                highlight=False,
            )

    with progress:
        yield on_step


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
    tune_process()  # before torch is imported (README "Usage")
    app(prog_name="inrcodec")
