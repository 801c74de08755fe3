"""`inrcodec encode`, `decode` and `info`: one file or many, '-' for stdin and stdout; clips through cli/video.py.

Lines for people go to stderr (a summary per file; nothing with --quiet), so that stdout carries only --json
objects or the bytes of a '-' output.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from inrcodec.cli.app import app
from inrcodec.cli.common import (
    JSON_HELP, Failed, Preset, QuietOption, VerboseOption, Voice, attempt, command_errors, fit_progress, naming_file,
    print_json,
)  # fmt: skip
from inrcodec.cli.tables import print_header_tables, print_video_header
from inrcodec.cli.video import decode_clip, echo_encoded, encode_clip, is_video_input
from inrcodec.errors import InrCodecError
from inrcodec.media.files import atomic_write_bytes, check_output_path, read_bytes
from inrcodec.media.images import (
    LOSSY_FORMATS, MEDIA_SUFFIXES, encode_image_file, image_format_for_path, image_format_named, read_image,
)  # fmt: skip
from inrcodec.presets import DEFAULT_GOP, DEFAULT_MODEL, DEFAULT_PRESET, DEFAULT_QUALITY, IMAGE_PRESET_STEPS, QUALITY_LAMBDAS
from inrcodec.runtime import start_worker

STDIO = "-"
MAX_STDIN_BYTES = 1 << 30


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


@dataclass(frozen=True)
class EncodeSettings:
    quality: int
    preset: str
    steps: int | None
    model: str
    target_bpp: float | None
    gop: int
    tile: int | None
    input_jobs: int = 1  # processes for one input: its tiles (an image) or its frames (a clip)


@app.command()
def encode(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT...",
            help="Images to encode (PNG, JPEG, ...; 8-bit RGB or grey), '-' for an image on stdin, or a clip: .y4m, "
            ".mp4/.mkv/.mov/.avi/.webm, or a folder of frames in name order.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Optional[str], typer.Option("--output", "-o", help="The .inr file to write ('-': stdout); one INPUT only.")
    ] = None,
    out_dir: Annotated[
        Optional[Path],
        typer.Option("--out-dir", "-d", help="Folder for several INPUTs: each NAME.ext becomes DIR/NAME.inr."),
    ] = None,
    quality: Annotated[int, typer.Option("--quality", "-Q", min=1, max=8, help=_quality_help())] = DEFAULT_QUALITY,
    preset: Annotated[Preset, typer.Option(help=_preset_help())] = Preset(DEFAULT_PRESET),
    steps: Annotated[Optional[int], typer.Option(min=0, help="Refinement steps, overriding the preset's.")] = None,
    model: Annotated[
        str,
        typer.Option(
            help="Installed model to encode with (see `inrcodec models`); 'default' = the default model. "
            "Clips are coded with it too (video format 2.3, 2.4 with scale offsets, 2.5 with a temporal mix)."
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
            help="Video only: frames per group. A group's first frame is coded whole (intra), the others as "
            "B-frames predicted from the frames around them; longer groups cost fewer bits, shorter ones decode a "
            "single frame faster (a frame reads about log2(group) + 2 others).",
        ),
    ] = DEFAULT_GOP,
    tile: Annotated[
        Optional[int],
        typer.Option("--tile", help="Images: code the latents in square tiles of this many pixels (a power of two, "
                     "64..16384; 0: one stream), so that `crop` and `decode --region` read only the tiles they "
                     "need. Default: none up to 4 megapixels, 256 above (README \"Tiles and crops\")."),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=1, help="Processes: with several INPUTs, files encoded at once; with "
                          "one tiled image, processes that refine its tiles; with one clip, processes that code "
                          "frames whose references are coded (one thread each; the file is that of --jobs 1 "
                          "with one thread).")
    ] = 1,
    force: Annotated[bool, typer.Option("--force", help="Overwrite outputs that exist.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP + " One line per file.")] = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Encode images or clips to .inr files.

    Bytes, bpp and PSNR are measured by decoding the file just written (for a clip: mean PSNR over frames,
    bpp over all frames' pixels). Progress and a summary per file go to stderr. For a clip, --steps sets the fit
    steps of each frame after a group's first. With several INPUTs, a file that fails is reported and the others
    go on; the exit status is 1 if any failed.
    """
    voice = Voice(quiet, verbose)
    settings = EncodeSettings(quality, preset.value, steps, model, target_bpp, gop, tile)
    with command_errors():
        pairs = output_pairs(inputs, output, out_dir, lambda name: Path(name).stem + ".inr")
        for source, destination in pairs:
            check_encode_output(source, destination, force)
    if len(pairs) == 1:
        source, destination = pairs[0]
        with command_errors():
            stats = encode_one(source, destination, replace(settings, input_jobs=jobs), voice, progress=not quiet)
        report_encoded(destination, stats, settings, voice, json_output)
        return
    failures = 0
    for (source, destination), outcome in zip(pairs, run_jobs(pairs, settings, jobs)):
        if isinstance(outcome, Failed):
            failures += 1
            typer.echo(f"error: {outcome.message}", err=True)
        else:
            report_encoded(destination, outcome, settings, voice, json_output)
    end_batch(len(pairs), failures, "encoded", voice)


def end_batch(files: int, failures: int, done: str, voice: Voice) -> None:
    """The closing line of a batch; exit status 1 if any file failed."""
    voice.say(f"{files - failures} of {files} files {done}" + (f", {failures} failed" if failures else ""))
    if failures:
        raise typer.Exit(1)


def output_pairs(inputs: list[str], output: str | None, out_dir: Path | None, name_for) -> list[tuple[str, str]]:
    """(input, output) for each INPUT: -o for one, or out_dir / name_for(input name) for each."""
    if output is not None and out_dir is not None:
        raise InrCodecError("give either --output or --out-dir, not both")
    if out_dir is None:
        if len(inputs) > 1:
            raise InrCodecError(f"{len(inputs)} inputs need --out-dir DIR (--output names one file)")
        if output is None:
            raise InrCodecError("give --output FILE ('-' for stdout) or --out-dir DIR")
        return [(inputs[0], output)]
    if STDIO in inputs:
        raise InrCodecError("'-' (stdin) needs --output, not --out-dir")
    if not out_dir.is_dir():
        raise InrCodecError(f"output folder {str(out_dir)!r} does not exist")
    pairs = [(name, str(out_dir / name_for(name))) for name in inputs]
    seen: dict[str, str] = {}
    for name, destination in pairs:
        if destination in seen:
            raise InrCodecError(f"{seen[destination]!r} and {name!r} would both be written to {destination!r}")
        seen[destination] = name
    return pairs


def check_encode_output(source: str, destination: str, force: bool) -> None:
    if destination == STDIO:
        if sys.stdout.isatty():
            raise InrCodecError("refusing to write .inr bytes to a terminal; redirect stdout or give --output FILE")
        return
    suffix = Path(destination).suffix.lower()
    if suffix in MEDIA_SUFFIXES:
        raise InrCodecError(f"output {destination!r} ends in {suffix}, but encode writes an .inr file; "
                            f"name it {Path(destination).stem}.inr")  # fmt: skip
    check_output_path(Path(destination), force, None if source == STDIO else Path(source))


def encode_one(source: str, destination: str, settings: EncodeSettings, voice: Voice, progress: bool) -> dict:
    """Encode one input (a path or '-') and write it (a path or '-'); -> the codec's stats."""
    if source != STDIO and is_video_input(Path(source)):
        if settings.target_bpp is not None:
            raise InrCodecError("--target-bpp is for images only")
        stats = encode_clip(Path(source), settings.quality, settings.preset, settings.model, settings.gop,
                            settings.steps, settings.input_jobs)  # fmt: skip
        data = stats.pop("data")
    else:
        pixels = read_image(stdin_bytes(), keep_grey=True, name="stdin") if source == STDIO else naming_file(
            Path(source), read_image, Path(source), True)
        data, stats = encode_pixels(pixels, settings, voice, progress)
    write_output(destination, data)
    return {**stats, "input": source, "output": destination}


def encode_pixels(pixels, settings: EncodeSettings, voice: Voice, progress: bool) -> tuple[bytes, dict]:
    from inrcodec.api import encode_image, encode_to_bpp, preset_steps

    total_steps = preset_steps(settings.preset, settings.steps)
    with fit_progress(total_steps, progress) as on_step:
        if settings.target_bpp is None:
            result = encode_image(pixels, quality=settings.quality, preset=settings.preset, steps=settings.steps,
                                  model=settings.model, progress=on_step, tile=settings.tile,
                                  jobs=settings.input_jobs)  # fmt: skip
            return result.data, result.stats
        result = encode_to_bpp(pixels, settings.target_bpp, settings.preset, settings.steps, settings.model,
                               progress=on_step, on_trial=lambda trial: report_trial(trial, voice),
                               tile=settings.tile)  # fmt: skip
    if not result.stats["target_reached"]:
        voice.say(f"note: {settings.target_bpp:g} bpp is not reachable within 5 %; nearest found: "
                  f"{result.stats['bpp']:.4f} bpp")  # fmt: skip
    return result.data, result.stats


def report_trial(trial: dict, voice: Voice) -> None:
    """One line on stderr per rate-control trial: each is a whole encode, so this is the search's progress."""
    voice.say(f"trial: lambda {trial['lambda']:.3g} -> {trial['bpp']:.4f} bpp, PSNR {trial['psnr_rgb']:.2f} dB")


def report_encoded(destination: str, stats: dict, settings: EncodeSettings, voice: Voice, as_json: bool) -> None:
    if as_json:
        print_json(stats)
    if "frames" in stats:
        if not as_json and not voice.quiet:
            echo_encoded(Path(destination), stats)
        return
    name = "stdout" if destination == STDIO else destination
    setting = f"target {settings.target_bpp:g} bpp" if settings.target_bpp is not None else f"quality {settings.quality}"
    seconds = stats.get("rate_control_seconds", stats["encode_seconds"])
    if not as_json:
        voice.say(f"{name}: {stats['bytes']} bytes, {stats['bpp']:.4f} bpp, PSNR {stats['psnr_rgb']:.2f} dB "
                  f"({stats['width']}x{stats['height']}, {setting}, {seconds:.1f} s)")  # fmt: skip
    voice.detail(f"  from {stats['input']}: preset {settings.preset}, {stats['steps']} steps, model "
                 f"{stats.get('model') or 'none'}, rate code {stats.get('rate_code')}, lambda {stats['lambda']:.4g}")


def run_jobs(pairs: list[tuple[str, str]], settings: EncodeSettings, jobs: int):
    """Encode each pair (in `jobs` processes) -> per pair, in order, its stats or a one-line error."""
    if jobs == 1:
        for pair in pairs:
            yield encode_job(pair, settings)
        return
    threads = max(1, (os.cpu_count() or 1) // jobs)
    context = multiprocessing.get_context("spawn")  # torch is not fork-safe once its thread pool has started
    with ProcessPoolExecutor(min(jobs, len(pairs)), mp_context=context, initializer=start_worker,
                             initargs=(threads,)) as pool:  # fmt: skip
        yield from pool.map(encode_job, pairs, [settings] * len(pairs))


def encode_job(pair: tuple[str, str], settings: EncodeSettings) -> dict | Failed:
    """One file of a batch: its stats, or Failed (no summary or progress here: the caller reports)."""
    return attempt(encode_one, *pair, settings, Voice(quiet=True), False)


def stdin_bytes() -> bytes:
    data = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    if len(data) > MAX_STDIN_BYTES:
        raise InrCodecError(f"stdin holds more than {MAX_STDIN_BYTES} bytes")
    if not data:
        raise InrCodecError("stdin is empty")
    return data


def write_output(destination: str, data: bytes) -> None:
    if destination == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        atomic_write_bytes(Path(destination), data)


def read_input(source: str) -> bytes:
    return stdin_bytes() if source == STDIO else read_bytes(Path(source))


@app.command()
def decode(
    inputs: Annotated[
        list[str],
        typer.Argument(metavar="INPUT...", help="The .inr files to decode; '-' for one on stdin.", show_default=False),
    ],
    output: Annotated[
        Optional[str],
        typer.Option(
            "--output",
            "-o",
            help="Image to write, format from the extension or --format ('-': stdout). For a clip: .mkv (FFV1, "
            "lossless RGB), .mp4 (lossless H.264 RGB), .y4m (4:4:4, BT.601 limited) or a path without extension = "
            "a folder of PNG frames; with --frame, an image. One INPUT only.",
        ),
    ] = None,
    out_dir: Annotated[
        Optional[Path],
        typer.Option("--out-dir", "-d", help="Folder for several INPUTs: each NAME.inr becomes DIR/NAME.png "
                     "(or the --format's extension)."),
    ] = None,
    image_format: Annotated[
        Optional[str],
        typer.Option("--format", "-f", help="Image format when the output has no extension or is '-': png (the "
                     "default), tiff, bmp, ppm; jpg, webp and the like re-compress the pixels lossily."),
    ] = None,
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
    region: Annotated[
        Optional[str],
        typer.Option("--region", metavar="X,Y,W,H", help="Images only: decode just this box (pixels of the output, "
                     "after --scale); only its pixels are rendered."),
    ] = None,
    scale: Annotated[
        Optional[float],
        typer.Option("--scale", help="Images only: render the field at this many times "
                     "the coded size (0.25: a quick thumbnail, 2: a smooth upscale)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite outputs that exist.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP + " One line per file.")] = False,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Decode .inr files to images, or a clip to a video or frames.

    Images are decoded to 8-bit RGB or grey, whole or a --region, at the coded size or a --scale; a clip to a
    video, a folder of frames or one frame. A summary per file goes to stderr. With several INPUTs, a file that
    fails is reported and the others go on; the exit status is 1 if any failed.
    """
    voice = Voice(quiet, verbose)
    with command_errors():
        box = parse_box(region) if region is not None else None
        chosen_format = image_format_named(image_format) if image_format else None
        extension = "." + (image_format or "png").lower().lstrip(".")
        pairs = output_pairs(inputs, output, out_dir, lambda name: Path(name).stem + extension)
    failures = 0
    for source, destination in pairs:
        arguments = (source, destination, DecodeSettings(chosen_format, frame, max_pixels, box, scale, force), voice)
        if len(pairs) == 1:
            with command_errors():
                outcome = decode_one(*arguments)
        else:
            outcome = attempt(decode_one, *arguments)
        if isinstance(outcome, Failed):
            failures += 1
            typer.echo(f"error: {outcome.message}", err=True)
        elif json_output:
            print_json(outcome)
        else:
            report_decoded(outcome, voice)
    if len(pairs) > 1:
        end_batch(len(pairs), failures, "decoded", voice)


def parse_box(text: str, option: str = "--region") -> tuple[int, int, int, int]:
    """'x,y,w,h' -> four integers; InrCodecError otherwise (the decoder checks the box against the image)."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 4 or not all(part.lstrip("-").isdigit() for part in parts):
        raise InrCodecError(f"{option} takes x,y,w,h in whole pixels, got {text!r}")
    x, y, w, h = map(int, parts)
    return x, y, w, h


@dataclass(frozen=True)
class DecodeSettings:
    image_format: str | None
    frame: int | None
    max_pixels: int
    region: tuple[int, int, int, int] | None
    scale: float | None
    force: bool


def decode_one(source: str, destination: str, settings: DecodeSettings, voice: Voice) -> dict:
    """Decode one .inr input (a path or '-') to one output (a path or '-'); -> what was written."""
    from inrcodec.api import clip_format

    chosen_format, frame, force = settings.image_format, settings.frame, settings.force
    label = "stdin" if source == STDIO else source
    to_stdout = destination == STDIO
    if to_stdout and sys.stdout.isatty():
        raise InrCodecError("refusing to write image bytes to a terminal; redirect stdout or give --output FILE")
    data = read_input(source)
    if naming_file(Path(label), clip_format, data):
        if settings.region is not None or settings.scale is not None:
            raise InrCodecError(f"{label!r} is a clip; --region and --scale are for images")
        if to_stdout:
            return frame_to_stdout(data, label, frame, chosen_format)
        if frame is not None or Path(destination).suffix:
            check_output_path(Path(destination), force, None if source == STDIO else Path(source))
        if frame is not None:
            image_format_for_path(destination, chosen_format or "PNG")
        stats = naming_file(Path(label), decode_clip, data, Path(destination), frame)
        return {"input": label, **stats}
    if frame is not None:
        raise InrCodecError(f"{label!r} is an image file; --frame is for clips")
    if not to_stdout:
        check_output_path(Path(destination), force, None if source == STDIO else Path(source))
    # an unknown extension should fail before the decode, not after
    output_format = chosen_format or "PNG" if to_stdout else image_format_for_path(destination, chosen_format or "PNG")
    if output_format in LOSSY_FORMATS:
        voice.say(f"note: {output_format} is lossy: the decoded pixels are re-compressed (use .png to keep them)")
    from inrcodec.api import decode_image, info

    start = time.perf_counter()
    rgb = naming_file(Path(label), decode_image, data, settings.max_pixels, settings.region, settings.scale)
    decode_seconds = time.perf_counter() - start
    write_output(destination, encode_image_file(rgb, Path(destination), output_format))
    height, width = rgb.shape[:2]
    shown = info(data)["box"][2:] if settings.region or settings.scale else (width, height)  # pixels the file shows
    return {"input": label, "output": destination, "bytes": len(data),
            "bpp": len(data) * 8 / (shown[0] * shown[1]), "width": width, "height": height,
            "region": settings.region, "scale": settings.scale, "decode_seconds": decode_seconds}  # fmt: skip


def frame_to_stdout(data: bytes, label: str, frame: int | None, chosen_format: str | None) -> dict:
    """`decode CLIP --frame K -o -`: one frame as an image on stdout (a whole clip has no stdout form)."""
    if frame is None:
        raise InrCodecError(f"{label!r} is a clip, which cannot be written to stdout; use --frame K or a file")
    from inrcodec.api import decode_frame
    from inrcodec.cli.video import clip_frame_count

    start = time.perf_counter()
    rgb = naming_file(Path(label), decode_frame, data, frame)
    count = clip_frame_count(data)
    decode_seconds = time.perf_counter() - start
    write_output(STDIO, encode_image_file(rgb, Path("frame"), chosen_format or "PNG"))
    height, width = rgb.shape[:2]
    return {"input": label, "output": STDIO, "bytes": len(data), "bpp": len(data) * 8 / (width * height * count),
            "width": width, "height": height, "frames_in_file": count, "frames_written": 1, "frame": frame,
            "decode_seconds": decode_seconds}  # fmt: skip


def report_decoded(stats: dict, voice: Voice) -> None:
    name = "stdout" if stats["output"] == STDIO else stats["output"]
    if "frames_written" in stats:
        voice.say(f"{name}: {stats['frames_written']} frame(s) of {stats['width']}x{stats['height']} from "
                  f"{stats['bytes']} bytes ({stats['bpp']:.4f} bpp), {stats['decode_seconds']:.2f} s")  # fmt: skip
    else:
        voice.say(f"{name}: {stats['width']}x{stats['height']} from {stats['bytes']} bytes ({stats['bpp']:.4f} bpp), "
                  f"{stats['decode_seconds']:.2f} s")  # fmt: skip
    voice.detail(f"  from {stats['input']}")


@app.command()
def crop(
    input_path: Annotated[str, typer.Argument(metavar="INPUT", help="The .inr image to crop ('-': stdin).")],
    box: Annotated[str, typer.Option("--box", metavar="X,Y,W,H", help="The box to keep, in pixels of the image.")],
    output: Annotated[str, typer.Option("--output", "-o", help="The .inr file to write ('-': stdout).")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUTPUT if it exists.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
    quiet: QuietOption = False,
) -> None:
    """Cut a box out of a .inr image without re-encoding.

    The new file keeps the tiles that cover the box (an untiled file is cut into 64-pixel tiles first) and
    re-codes them with the latents that the box's render does not read set to 0, so its size follows the box's
    area. It decodes to the box of the whole file's decode, within one level of 255 (README "Tiles").
    """
    from inrcodec.api import crop as crop_file

    voice = Voice(quiet)
    with command_errors():
        chosen = parse_box(box, "--box")
        check_encode_output(input_path, output, force)
        label = "stdin" if input_path == STDIO else input_path
        data = read_input(input_path)
        from inrcodec.api import clip_format

        if naming_file(Path(label), clip_format, data):
            raise InrCodecError(f"{label!r} is a clip; crop cuts images")
        cropped = naming_file(Path(label), crop_file, data, chosen)
        write_output(output, cropped)
    stats = {"input": label, "output": output, "box": list(chosen), "bytes": len(cropped), "input_bytes": len(data),
             "bytes_ratio": len(cropped) / len(data)}  # fmt: skip
    if json_output:
        print_json(stats)
    else:
        voice.say(f"{'stdout' if output == STDIO else output}: {len(cropped)} bytes ({stats['bytes_ratio']:.0%} of "
                  f"{len(data)}), box {','.join(map(str, chosen))}")  # fmt: skip


@app.command()
def info(
    input_path: Annotated[str, typer.Argument(metavar="INPUT", help="The .inr file to describe ('-': stdin).")],
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, not tables.")] = False,
) -> None:
    """Show the header of a .inr file.

    Format version, image size, model, and the bytes of its latents; the file is not decoded."""
    from inrcodec.api import info as file_info

    with command_errors():
        label = "stdin" if input_path == STDIO else input_path
        data = read_input(input_path)
        header = {"file": label, **naming_file(Path(label), file_info, data)}
    if json_output:
        print_json(header)
    elif header.get("kind") == "video":
        print_video_header(header)
    else:
        print_header_tables(header)
