"""`inrcodec encode`, `decode` and `info`: images here, clips through cli/video.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from inrcodec.cli.app import app
from inrcodec.cli.common import JSON_HELP, Preset, command_errors, fit_progress, naming_file, print_json
from inrcodec.cli.tables import describe_file, print_header_tables, print_video_header
from inrcodec.cli.video import decode_clip, describe_video, echo_encoded, encode_clip, is_video_input
from inrcodec.errors import InrCodecError
from inrcodec.media.files import atomic_write_bytes, check_output_path, read_bytes
from inrcodec.media.images import image_format_for_path, read_image, write_image
from inrcodec.presets import DEFAULT_GOP, DEFAULT_MODEL, DEFAULT_PRESET, DEFAULT_QUALITY, IMAGE_PRESET_STEPS, QUALITY_LAMBDAS

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
