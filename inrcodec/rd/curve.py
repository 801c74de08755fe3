"""The rate-distortion harness behind `inrcodec rd-curve`: measure codecs on a dataset, resumably.

Per codec the output folder holds <name>.csv (one row per image and quality, appended as measured: the resume
store) and <name>.json (CompressAI's results schema: curves averaged over images, with a meta block). Every rate
comes from the encoded bytes and every distortion from the decoded 8-bit image, for all codecs alike.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import platform
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from inrcodec.rd.datasets import Dataset
from inrcodec.errors import InrCodecError
from inrcodec.media.files import atomic_write_bytes
from inrcodec.metrics import mse, psnr, psnr_from_mse
from inrcodec.rd.codecs import Codec

CSV_FIELDS = ("image", "quality", "width", "height", "bytes", "bpp", "psnr_rgb", "mse", "ms_ssim_rgb",
              "encoding_time", "decoding_time", "sha256")
# pytorch_msssim's 5 scales with an 11-tap window need a shorter side above (11 - 1) * 2**4 = 160 pixels.
MS_SSIM_MIN_SIDE = 161


def ms_ssim_rgb(reference: np.ndarray, decoded: np.ndarray) -> float | None:
    """MS-SSIM of uint8 [H, W, 3] images (pytorch_msssim, data range 255, mean over RGB as in CompressAI);
    None when the image is too small for five scales."""
    if min(reference.shape[:2]) < MS_SSIM_MIN_SIDE:
        return None
    import torch
    from pytorch_msssim import ms_ssim

    def as_batch(rgb: np.ndarray) -> torch.Tensor:
        # float32 agrees with float64 to ~1e-7 here and is 5x faster.
        return torch.from_numpy(np.array(rgb, dtype=np.float32)).permute(2, 0, 1)[None]

    return float(ms_ssim(as_batch(reference), as_batch(decoded), data_range=255.0, size_average=True))


def measure(codec: Codec, image: str, rgb: np.ndarray, quality) -> dict:
    """Encode, decode and measure one image at one quality -> a row with the CSV_FIELDS."""
    start = time.perf_counter()
    data = codec.encode(rgb, quality)
    encoded = time.perf_counter()
    decoded = codec.decode(data)
    decoding_time = time.perf_counter() - encoded
    if decoded.shape != rgb.shape:
        raise InrCodecError(f"{codec.name} decoded {image} at quality {quality} to {decoded.shape}, not {rgb.shape}")
    height, width = rgb.shape[:2]
    return {"image": image, "quality": quality, "width": width, "height": height, "bytes": len(data),
            "bpp": len(data) * 8 / (width * height), "psnr_rgb": psnr(rgb, decoded), "mse": mse(rgb, decoded),
            "ms_ssim_rgb": ms_ssim_rgb(rgb, decoded), "encoding_time": encoded - start,
            "decoding_time": decoding_time, "sha256": hashlib.sha256(data).hexdigest()}


@dataclass(frozen=True)
class Task:
    codec: Codec
    image: str
    quality: object


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def _measure_in_worker(dataset: Dataset, task: Task) -> tuple[Task, dict]:
    return task, measure(task.codec, task.image, dataset.load(task.image), task.quality)


def run_meta(dataset: Dataset, codec: Codec, threads: int, command: str) -> dict:
    """The meta block of a results file: what was measured, with what, where and when."""
    import PIL
    import torch

    from inrcodec.hardware import results_machine

    return {
        "kind": codec.kind,
        "label": codec.label,
        "config": {**codec.config(), "threads": threads},
        "dataset": {"name": dataset.name, "images": len(dataset.images), "source": dataset.source},
        "command": command,
        **results_machine(),
        "threads": threads,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pillow": PIL.__version__,
    }


class CodecStore:
    """The measured rows of one codec in an output folder: <name>.csv (appended) and <name>.json (summary)."""

    def __init__(self, folder: Path, codec: Codec, meta: dict, fresh: bool = False):
        self.folder, self.codec, self.meta = folder, codec, meta
        self.csv_path, self.json_path = folder / f"{codec.name}.csv", folder / f"{codec.name}.json"
        self.rows: dict[tuple[str, str], dict] = {}
        self.earlier_runs: list[dict] = []
        if fresh:
            for path in (self.csv_path, self.json_path):
                path.unlink(missing_ok=True)
        elif self.csv_path.exists():
            previous = self._check_resumable()
            self.rows = {(row["image"], _key(row["quality"])): row for row in read_rows(self.csv_path)}
            # Files written before runs were recorded name only their first command; it measured every row.
            self.earlier_runs = previous.get("runs") or [
                {"command": previous.get("command"), "date": previous.get("date"), "rows_measured": len(self.rows)}]
        self.measured = 0

    def _check_resumable(self) -> dict:
        """The previous meta block, if its config and dataset are this run's; else InrCodecError."""
        try:
            previous = json.loads(self.json_path.read_text())["meta"]
        except (OSError, ValueError, KeyError, TypeError):
            raise InrCodecError(
                f"{self.csv_path} has no readable {self.json_path.name} beside it; remove both or pass --fresh"
            ) from None
        for key in ("config", "dataset"):
            old, new = previous.get(key), self.meta[key]
            if key == "dataset":
                old, new = old and {k: old.get(k) for k in ("name", "images")}, {k: new[k] for k in ("name", "images")}
            if old != new:
                raise InrCodecError(
                    f"{self.csv_path} was measured with another {key} ({_difference(old, new)}); "
                    "use another --out or pass --fresh to measure again"
                )
        return previous

    def has(self, image: str, quality) -> bool:
        return (image, _key(quality)) in self.rows

    def add(self, row: dict) -> None:
        """Keep a row and append it to the CSV at once, so an interrupted run loses at most the running tasks."""
        self.rows[(row["image"], _key(row["quality"]))] = row
        self.measured += 1
        new = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
        with open(self.csv_path, "a", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=CSV_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(_csv_row(row))

    def finish(self, images: list[str], description: str) -> dict:
        """Rewrite the CSV in (image, quality) order and write the summary JSON; return the summary.

        The meta block gains images_averaged and runs: every run that measured rows here (command, date, count),
        since a resumed folder holds rows from more than one command.
        """
        rows = sorted(self.rows.values(), key=lambda row: (images.index(row["image"]) if row["image"] in images
                                                           else len(images), float(row["quality"])))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(_csv_row(row) for row in rows)
        atomic_write_bytes(self.csv_path, buffer.getvalue().encode())
        this_run = {"command": self.meta["command"], "date": self.meta["date"], "rows_measured": self.measured}
        meta = {**self.meta, "images_averaged": len(images),
                "runs": self.earlier_runs + ([this_run] if self.measured or not self.earlier_runs else [])}
        summary = {"name": self.codec.name, "description": description, "meta": meta,
                   "results": summarise(rows, images, self.codec.qualities)}
        atomic_write_bytes(self.json_path, (json.dumps(summary, indent=2, allow_nan=False) + "\n").encode())
        return summary

    def write_header(self, description: str) -> None:
        """The JSON written before the first row, so that a resumed run can check what it continues."""
        if not self.json_path.exists() or not self.rows:
            summary = {"name": self.codec.name, "description": description, "meta": self.meta, "results": {}}
            atomic_write_bytes(self.json_path, (json.dumps(summary, indent=2) + "\n").encode())


def _key(quality) -> str:
    """Qualities compare as numbers: 5, '5' and 5.0 are the same point."""
    return repr(float(quality))


def _difference(old, new) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        changed = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
        return ", ".join(f"{k}: {old.get(k)!r} then, {new.get(k)!r} now" for k in changed[:2])
    return f"{old!r} then, {new!r} now"


def _csv_row(row: dict) -> dict:
    return {key: ("" if row.get(key) is None else row[key]) for key in CSV_FIELDS}


def read_rows(path: Path) -> list[dict]:
    """Rows of a results CSV with numbers parsed; a torn last line (an interrupted append) is dropped."""
    ints, texts = {"width", "height", "bytes"}, {"image", "sha256"}
    rows = []
    with open(path, newline="") as file:
        for raw in csv.DictReader(file):
            if None in raw.values() or None in raw or not raw.get("sha256"):
                continue
            try:
                row = {k: (v if k in texts else int(v) if k in ints else None if v == "" else float(v))
                       for k, v in raw.items()}
            except ValueError:
                continue
            if len(row["sha256"]) == 64:
                rows.append(row)
    return rows


def summarise(rows: list[dict], images: list[str], qualities: Iterable) -> dict:
    """Curves averaged over images, for each quality that every image has (CompressAI's schema + extras).

    psnr-rgb is the mean of per-image PSNRs (the CompressAI/COIN++ convention); psnr-rgb-of-mean-mse is the
    PSNR of the mean MSE; ms-ssim-rgb holds null where an image was too small for MS-SSIM.
    """
    by_key = {(row["image"], _key(row["quality"])): row for row in rows}
    keys = ("quality", "bpp", "psnr-rgb", "psnr-rgb-of-mean-mse", "ms-ssim-rgb", "encoding_time", "decoding_time")
    results: dict[str, list] = {key: [] for key in keys}
    for quality in qualities:
        kept = [by_key.get((image, _key(quality))) for image in images]
        if not kept or any(row is None for row in kept):
            continue
        ssims = [row["ms_ssim_rgb"] for row in kept]
        results["quality"].append(quality)
        results["bpp"].append(float(np.mean([row["bpp"] for row in kept])))
        results["psnr-rgb"].append(float(np.mean([row["psnr_rgb"] for row in kept])))
        results["psnr-rgb-of-mean-mse"].append(psnr_from_mse(float(np.mean([row["mse"] for row in kept]))))
        results["ms-ssim-rgb"].append(None if any(s is None for s in ssims) else float(np.mean(ssims)))
        results["encoding_time"].append(float(np.mean([row["encoding_time"] for row in kept])))
        results["decoding_time"].append(float(np.mean([row["decoding_time"] for row in kept])))
    results["psnr-rgb"] = [p if np.isfinite(p) else None for p in results["psnr-rgb"]]
    results["psnr-rgb-of-mean-mse"] = [p if np.isfinite(p) else None for p in results["psnr-rgb-of-mean-mse"]]
    return results


def describe(codec: Codec, dataset: Dataset) -> str:
    return (f"{codec.label} on {dataset.name} ({len(dataset.images)} images): bpp = file bytes x 8 / pixels, "
            "PSNR-RGB and MS-SSIM from the decoded 8-bit output, means over images; times in wall seconds per "
            "image (decoding_time includes reading the bytes, not process start).")


def run(
    dataset: Dataset,
    codecs: list[Codec],
    out: Path,
    qualities: dict[str, tuple],
    jobs: int = 1,
    threads: int | None = None,
    fresh: bool = False,
    command: str = "",
    images: list[str] | None = None,
    on_start: Callable[[dict[str, tuple[int, int]]], None] | None = None,
    on_row: Callable[[str, dict], None] | None = None,
) -> dict[str, dict]:
    """Measure every codec on every image at its qualities; returns name -> summary (results JSON).

    qualities: codec name -> quality parameters. jobs > 1 measures in that many worker processes, each with
    `threads` torch threads (default: the CPU count divided by jobs). Rows already in `out` for the same codec
    config and dataset are kept (resume). on_start gets name -> (done, total); on_row(name, row) after each.
    """
    names = [name for name, _ in dataset.images]
    if images:
        unknown = [image for image in images if image not in names]
        if unknown:
            raise InrCodecError(f"no image {unknown[0]!r} in {dataset.name} (it has {names[0]} ... {names[-1]})")
        names = [name for name in names if name in images]
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InrCodecError(f"cannot create {out}: {exc.strerror or exc}") from None
    stores = {}
    for codec in codecs:
        store = CodecStore(out, codec, run_meta(dataset, codec, threads, command), fresh)
        store.write_header(describe(codec, dataset))
        stores[codec.name] = store
    tasks = [Task(codec, image, quality) for codec in codecs for image in names for quality in qualities[codec.name]
             if not stores[codec.name].has(image, quality)]
    if on_start is not None:
        on_start({codec.name: (len(names) * len(qualities[codec.name]) - sum(t.codec is codec for t in tasks),
                               len(names) * len(qualities[codec.name])) for codec in codecs})

    def keep(task: Task, row: dict) -> None:
        stores[task.codec.name].add(row)
        if on_row is not None:
            on_row(task.codec.name, row)

    if jobs <= 1:
        _set_threads(threads)
        cache: dict[str, np.ndarray] = {}
        for task in tasks:
            if task.image not in cache:
                cache = {task.image: dataset.load(task.image)}
            keep(task, measure(task.codec, task.image, cache[task.image], task.quality))
    else:
        _run_parallel(dataset, tasks, jobs, threads, keep)
    return {codec.name: stores[codec.name].finish(names, describe(codec, dataset)) for codec in codecs}


def _run_parallel(dataset: Dataset, tasks: list[Task], jobs: int, threads: int, keep) -> None:
    """Measure tasks in `jobs` spawned processes (fork is unsafe once torch has started threads)."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_set_threads, initargs=(threads,)) as pool:
        pending = {pool.submit(_measure_in_worker, dataset, task) for task in tasks}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    keep(*future.result())
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def command_line() -> str:
    """How this process was started, as a user would type it."""
    program = Path(sys.argv[0]).name
    return " ".join(["inrcodec" if program in ("inrcodec", "__main__.py") else program, *sys.argv[1:]])
