"""`inrcodec models` (the installed models) and `inrcodec meta-train` (training the shared model)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer

from inrcodec.cli.app import app
from inrcodec.cli.common import command_errors, print_json
from inrcodec.cli.tables import print_models_table
from inrcodec.errors import InrCodecError

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
) -> None:
    """Train the shared image model and the analysis network.

    The shared model is the synthesis network, the context model and the latent gains.

    Trains on random crops of the images under --data with the rate-distortion loss over the whole quality
    range, checkpoints every 3 minutes (--resume continues, also with a changed --steps), and writes
    model.safetensors, CARD.md and train_log.jsonl to --out.
    Train only on images you will not evaluate on.
    """
    with command_errors():
        import torch

        from inrcodec import hardware

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device not in ("cpu", "cuda") or (device == "cuda" and not torch.cuda.is_available()):
            raise InrCodecError(f"device {device!r} is not available (use auto, cpu or cuda)")
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
