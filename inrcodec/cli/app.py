"""The typer application and its root options (--version)."""

from __future__ import annotations

from typing import Annotated

import typer

import inrcodec

app = typer.Typer(
    name="inrcodec",
    no_args_is_help=True,
    add_completion=False,
    # plain click help: it rewraps docstring paragraphs to the terminal and never cuts a line with "..."
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,  # locals of a failed fit hold whole tensors
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        from inrcodec.bitstream import video_v2
        from inrcodec.bitstream.image_v2 import FORMAT
        from inrcodec.video.file import VIDEO_MINOR

        images = ", ".join(f"{FORMAT[0]}.{minor}" for minor in range(FORMAT[1] + 1))
        video = "{}.{}".format(*video_v2.FORMAT)
        typer.echo(f"inrcodec {inrcodec.__version__}\n"
                   f"writes .inr format {FORMAT[0]}.{FORMAT[1]} (images) and {video} (video)\n"
                   f"reads .inr formats {images} (images), {video} and 1.{VIDEO_MINOR} (video)")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """A neural image codec: stores an image as the entropy-coded parameters of a small neural field (.inr)."""
