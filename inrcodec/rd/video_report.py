"""Results files of `inrcodec rd-curve --video`: the resumable per-codec store (<name>.csv appended as measured,
<name>.json in CompressAI's schema with a meta block), the BD-rate tables and the RD plot of a clip's folder.

BD-rates follow DESIGN.md's protocol (metrics.bd_rate through rdreport.bd_table: pchip of log-rate against PSNR
over the overlapping PSNR range), for inrcodec's video codec against every other curve, on PSNR-RGB and PSNR-YUV.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from inrcodec.errors import InrCodecError
from inrcodec.media.files import atomic_write_bytes
from inrcodec.metrics import psnr_from_mse
from inrcodec.rd.curve import _difference, _key
from inrcodec.media.yuv import DESCRIPTION as COLOUR

if TYPE_CHECKING:
    from inrcodec.rd.video import Clip, VideoCodec

CODEC_NAMES = ("inrcodec", "inrcodec-image", "x264", "x265", "x264-gop16")
CSV_FIELDS = ("quality", "frames", "width", "height", "bytes", "bpp", "psnr_rgb", "mse_rgb", "psnr_yuv", "psnr_y",
              "psnr_u", "psnr_v", "encoding_time", "decoding_time", "encoding_time_per_frame",
              "decoding_time_per_frame", "frame_decoding_time_middle", "frame_decoding_time_last",
              "frame_decode_matches", "sha256")
BD_STEM, PLOT_STEM = "bd_rates", "rd"
METRICS = ("psnr-rgb", "psnr-yuv")


class VideoStore:
    """The measured rows of one codec: <name>.csv (appended as measured) and <name>.json (summary)."""

    def __init__(self, folder: Path, codec: VideoCodec, meta: dict, fresh: bool = False):
        self.codec, self.meta = codec, meta
        self.csv_path, self.json_path = folder / f"{codec.name}.csv", folder / f"{codec.name}.json"
        self.rows: dict[str, dict] = {}
        self.earlier_runs: list[dict] = []
        self.measured = 0
        if fresh:
            for path in (self.csv_path, self.json_path):
                path.unlink(missing_ok=True)
        elif self.csv_path.exists():
            try:
                previous = json.loads(self.json_path.read_text())["meta"]
            except (OSError, ValueError, KeyError, TypeError):
                raise InrCodecError(f"{self.csv_path} has no readable {self.json_path.name} beside it; remove both "
                                    "or pass --fresh") from None
            for key in ("config", "clip"):
                if previous.get(key) != meta[key]:
                    raise InrCodecError(f"{self.csv_path} was measured with another {key} "
                                        f"({_difference(previous.get(key), meta[key])}); use another --out or "
                                        "pass --fresh to measure again")
            self.rows = {_key(row["quality"]): row for row in read_rows(self.csv_path)}
            self.earlier_runs = previous.get("runs") or []

    def has(self, quality) -> bool:
        return _key(quality) in self.rows

    def add(self, row: dict) -> None:
        self.rows[_key(row["quality"])] = row
        self.measured += 1
        new = not self.csv_path.exists() or self.csv_path.stat().st_size == 0
        with open(self.csv_path, "a", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=CSV_FIELDS, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def write_header(self, description: str) -> None:
        """The JSON written before the first row, so that a resumed run can check what it continues."""
        if not self.json_path.exists() or not self.rows:
            self._write({"name": self.codec.name, "description": description, "meta": self.meta, "results": {}})

    def finish(self, description: str) -> dict:
        """Rewrite the CSV in rate order and write the summary JSON (every quality measured here); return it."""
        rows = sorted(self.rows.values(), key=lambda row: self.codec.rate_order(row["quality"]))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(self.csv_path, buffer.getvalue().encode())
        this_run = {"command": self.meta["command"], "date": self.meta["date"], "rows_measured": self.measured}
        meta = {**self.meta, "runs": self.earlier_runs + ([this_run] if self.measured or not self.earlier_runs else [])}
        summary = {"name": self.codec.name, "description": description, "meta": meta, "results": summarise(rows)}
        self._write(summary)
        return summary

    def _write(self, document: dict) -> None:
        atomic_write_bytes(self.json_path, (json.dumps(document, indent=2, allow_nan=False) + "\n").encode())


def read_rows(path: Path) -> list[dict]:
    """Rows of a video results CSV with numbers parsed; a torn last line (an interrupted append) is dropped."""
    ints = {"frames", "width", "height", "bytes"}
    rows = []
    with open(path, newline="") as file:
        for raw in csv.DictReader(file):
            if None in raw or None in raw.values() or len(raw.get("sha256") or "") != 64:
                continue
            try:
                row = {key: (value if key == "sha256" else None if value == "" else value == "True"
                             if key == "frame_decode_matches" else int(value) if key in ints else float(value))
                       for key, value in raw.items()}
            except ValueError:
                continue
            row["quality"] = _integral(row["quality"])
            rows.append(row)
    return rows


def _integral(quality: float):
    """A quality read back from a CSV as written (3, not 3.0), so a resumed run rewrites the file unchanged."""
    return int(quality) if float(quality).is_integer() else quality


def summarise(rows: list[dict]) -> dict:
    """CompressAI's results lists (one entry per row, in the rows' order) plus extras; non-finite PSNR -> null."""
    def finite(value):
        return value if value is None or math.isfinite(value) else None

    columns = {"quality": "quality", "bpp": "bpp", "psnr-rgb": "psnr_rgb", "psnr-yuv": "psnr_yuv",
               "psnr-y": "psnr_y", "psnr-u": "psnr_u", "psnr-v": "psnr_v", "encoding_time": "encoding_time",
               "decoding_time": "decoding_time", "encoding_time_per_frame": "encoding_time_per_frame",
               "decoding_time_per_frame": "decoding_time_per_frame"}
    results = {key: [finite(row[column]) for row in rows] for key, column in columns.items()}
    results["quality"] = [_integral(q) for q in results["quality"]]
    results["psnr-rgb-of-mean-mse"] = [finite(psnr_from_mse(row["mse_rgb"])) for row in rows]
    for key in ("frame_decoding_time_middle", "frame_decoding_time_last"):
        if any(row.get(key) is not None for row in rows):
            results[key] = [row.get(key) for row in rows]
    return results


def curves_in(folder: Path, clip: Clip) -> dict[str, dict]:
    """name -> results JSON of the video codecs measured in folder on this clip (2 points or more)."""
    found = {}
    for name in CODEC_NAMES:
        try:
            document = json.loads((folder / f"{name}.json").read_text())
        except (OSError, ValueError):
            continue
        if document["meta"].get("clip") == clip.identity() and len(document["results"].get("bpp") or []) >= 2:
            found[name] = document
    return found


def bd_rows(curves: dict[str, dict]) -> list[dict]:
    """BD-rate / BD-PSNR of inrcodec against each other curve, on PSNR-RGB and PSNR-YUV (None: no overlap)."""
    from inrcodec.rd.anchors import Curve
    from inrcodec.rd.report import bd_table

    rows = []
    for metric in METRICS:
        chosen = []
        for name, document in curves.items():
            points = [(b, p) for b, p in zip(document["results"]["bpp"], document["results"][metric]) if p is not None]
            if len(points) >= 2:
                chosen.append(Curve(name, document["meta"]["label"], "inrcodec" if name == "inrcodec" else "video",
                                    tuple(b for b, _ in points), tuple(p for _, p in points), None))
        rows += [{**row, "metric": metric} for row in bd_table(chosen)]
    return rows


def _format(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:+.1f} %" if unit == "%" else f"{value:+.2f} dB"


def _table(rows: list[dict]) -> list[list[str]]:
    """[reference, BD-rate RGB, BD-PSNR RGB, BD-rate YUV, BD-PSNR YUV] per reference."""
    table = {}
    for row in rows:
        cells = table.setdefault(row["reference"], [row["reference_label"]] + ["n/a"] * 4)
        at = 1 if row["metric"] == "psnr-rgb" else 3
        cells[at:at + 2] = [_format(row["bd_rate_percent"], "%"), _format(row["bd_psnr_db"], "dB")]
    return list(table.values())


NO_ROWS = "(no BD-rates: this folder has no inrcodec video curve and another curve of 2 points or more)"
HEADINGS = ("reference", "BD-rate (PSNR-RGB)", "BD-PSNR-RGB", "BD-rate (PSNR-YUV)", "BD-PSNR-YUV")


def write_bd_files(rows: list[dict], folder: Path, clip: Clip, facts: dict) -> list[Path]:
    md, js = folder / f"{BD_STEM}.md", folder / f"{BD_STEM}.json"
    lines = [f"BD-rates of inrcodec (video) on {clip.name} ({clip.frames} frames, {clip.width}x{clip.height}); "
             "pchip, log-rate against mean PSNR over the overlapping range; negative = inrcodec needs fewer bits. "
             f"{COLOUR}.", "", "| " + " | ".join(HEADINGS) + " |", "|---" * len(HEADINGS) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in _table(rows)]
    lines += [""] + ([f"- {row['reference']}, {row['metric']}: {row['note']}" for row in rows if row["note"]]
                     if rows else [NO_ROWS])
    atomic_write_bytes(md, ("\n".join(lines) + "\n").encode())
    document = {"clip": clip.identity(), "colour": COLOUR, "meta": facts, "rows": rows}
    atomic_write_bytes(js, (json.dumps(document, indent=2) + "\n").encode())
    return [md, js]


def rich_table(rows: list[dict], clip: Clip):
    from rich.table import Table

    table = Table(title=f"BD-rate of inrcodec on {clip.name} (negative = fewer bits than the reference)")
    for heading in HEADINGS:
        table.add_column(heading, justify="left" if heading == "reference" else "right")
    for cells in _table(rows):
        table.add_row(*cells)
    if not rows:
        table.caption = NO_ROWS
    return table


def plot(curves: dict[str, dict], folder: Path, clip: Clip) -> list[Path]:
    """rd.png and rd.svg: PSNR-RGB and PSNR-YUV against bpp, one line per codec."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede pyplot's import
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.2))
    for axis, metric, ylabel in zip(axes, METRICS, ("PSNR-RGB (dB)", "PSNR-YUV 6:1:1 (dB)")):
        for name, document in curves.items():
            points = sorted((b, p) for b, p in zip(document["results"]["bpp"], document["results"][metric])
                            if p is not None)
            style = dict(linewidth=2.2, marker="o") if name.startswith("inrcodec") else dict(linewidth=1.3, marker=".")
            axis.plot([b for b, _ in points], [p for _, p in points], label=document["meta"]["label"], **style)
        axis.set(xlabel="bits per pixel", ylabel=ylabel)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize=8)
    fig.suptitle(f"{clip.name}: {clip.frames} frames, {clip.width}x{clip.height}")
    fig.tight_layout()
    from inrcodec.rd.report import save_figure

    return save_figure(fig, folder, PLOT_STEM)


def report(folder: Path, clip: Clip, facts: dict) -> tuple[list[dict], list[Path]]:
    """BD files for every curve in folder on this clip, and the plot when there are curves; -> (rows, paths)."""
    curves = curves_in(folder, clip)
    rows = bd_rows(curves)
    written = write_bd_files(rows, folder, clip, facts)
    if curves:
        written += plot(curves, folder, clip)
    return rows, written

