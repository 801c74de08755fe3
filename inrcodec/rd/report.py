"""Reports of an rd-curve run: BD-rate table (rich, Markdown, JSON), inrcodec's points (Markdown) and the RD plot
(PNG and SVG).

BD-rates follow DESIGN.md's protocol (metrics.bd_rate: pchip of log-rate against PSNR over the overlapping PSNR
range); each inrcodec curve is compared with each live baseline and each published anchor.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from inrcodec.rd.anchors import Curve, load_curve
from inrcodec.media.files import atomic_write_bytes
from inrcodec.metrics import bd_psnr, bd_rate

BD_STEM = "bd_rates"
POINTS_STEM = "curves"
PLOT_STEM = "rd"


def curves_in(folder: Path, dataset: str) -> list[Curve]:
    """The inrcodec and live curves measured in folder on this dataset (results JSON files with a meta.kind)."""
    curves = []
    for path in sorted(folder.glob("*.json")):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        meta = document.get("meta") if isinstance(document, dict) else None
        if not isinstance(meta, dict) or meta.get("kind") not in ("inrcodec", "live"):
            continue
        if (meta.get("dataset") or {}).get("name") != dataset or len(document["results"].get("bpp") or []) < 2:
            continue
        curve = load_curve(path)
        curves.append(Curve(curve.name, meta.get("label", curve.name), meta["kind"], curve.bpp, curve.psnr,
                            curve.ms_ssim, meta))
    # inrcodec first, then the live baselines, each by name.
    return sorted(curves, key=lambda c: (c.kind != "inrcodec", c.name))


def ms_ssim_db(values: tuple[float, ...]) -> tuple[float, ...]:
    """MS-SSIM as -10 log10(1 - MS-SSIM) dB, the scale on which BD-rates over MS-SSIM are computed."""
    return tuple(-10 * math.log10(max(1e-12, 1 - v)) for v in values)


def bd_table(curves: list[Curve]) -> list[dict]:
    """One row per (inrcodec curve, reference): BD-rate % and BD-PSNR dB, and the BD-rate over MS-SSIM (dB)
    where both curves have MS-SSIM; None with a note where there is none."""
    tests = [c for c in curves if c.kind == "inrcodec"]
    references = [c for c in curves if c.kind != "inrcodec"] + [c for c in curves if c.kind == "inrcodec"]
    rows = []
    for test in tests:
        for reference in references:
            if reference is test:
                continue
            row = {"test": test.name, "test_label": test.label, "reference": reference.name,
                   "reference_label": reference.label, "reference_kind": reference.kind,
                   "bd_rate_percent": None, "bd_psnr_db": None, "bd_rate_ms_ssim_percent": None,
                   "overlap_psnr_db": _overlap(reference.psnr, test.psnr), "note": ""}
            try:
                row["bd_rate_percent"] = bd_rate(reference.bpp, reference.psnr, test.bpp, test.psnr)
            except ValueError as exc:
                row["note"] = str(exc)
            try:
                row["bd_psnr_db"] = bd_psnr(reference.bpp, reference.psnr, test.bpp, test.psnr)
            except ValueError as exc:
                row["note"] = row["note"] or str(exc)
            if reference.ms_ssim and test.ms_ssim:
                try:
                    row["bd_rate_ms_ssim_percent"] = bd_rate(reference.bpp, ms_ssim_db(reference.ms_ssim), test.bpp,
                                                             ms_ssim_db(test.ms_ssim))  # fmt: skip
                except ValueError:
                    pass
            rows.append(row)
    return rows


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> list[float] | None:
    lo, hi = max(min(a), min(b)), min(max(a), max(b))
    return [round(lo, 3), round(hi, 3)] if hi > lo else None


def _format(value: float | None, unit: str) -> str:
    return "n/a" if value is None else f"{value:+.1f} {unit}" if unit == "%" else f"{value:+.2f} {unit}"


def markdown(rows: list[dict], dataset: str) -> str:
    """The BD table as Markdown: negative BD-rate = inrcodec needs fewer bits than the reference."""
    lines = [f"BD-rates on {dataset} (pchip, log-rate against mean PSNR-RGB over the overlapping PSNR range; "
             "negative = inrcodec needs fewer bits).", "",
             "BD-rate (MS-SSIM) is the same on MS-SSIM in dB, -10 log10(1 - MS-SSIM).", "",
             "| inrcodec | reference | kind | BD-rate | BD-PSNR | BD-rate (MS-SSIM) | PSNR overlap (dB) |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        overlap = "none" if row["overlap_psnr_db"] is None else "{:.2f}-{:.2f}".format(*row["overlap_psnr_db"])
        lines.append(f"| {row['test_label']} | {row['reference_label']} | {row['reference_kind']} | "
                     f"{_format(row['bd_rate_percent'], '%')} | {_format(row['bd_psnr_db'], 'dB')} | "
                     f"{_format(row.get('bd_rate_ms_ssim_percent'), '%')} | {overlap} |")
    return "\n".join(lines) + "\n"


def write_bd_files(rows: list[dict], folder: Path, dataset: str, meta: dict) -> list[Path]:
    """bd_rates.md, bd_rates.json and curves.md in folder."""
    md, js, points = folder / f"{BD_STEM}.md", folder / f"{BD_STEM}.json", folder / f"{POINTS_STEM}.md"
    atomic_write_bytes(md, markdown(rows, dataset).encode())
    atomic_write_bytes(js, (json.dumps({"dataset": dataset, "meta": meta, "rows": rows}, indent=2) + "\n").encode())
    atomic_write_bytes(points, points_markdown(folder, dataset).encode())
    return [md, js, points]


def points_markdown(folder: Path, dataset: str) -> str:
    """The inrcodec curves of folder point by point: bpp, PSNR, MS-SSIM and times per quality level."""
    lines = [f"inrcodec on {dataset}: means over images per quality level (bpp from the files, PSNR-RGB and "
             "MS-SSIM from the decoded 8-bit images, wall seconds per image).", ""]
    for curve in curves_in(folder, dataset):
        if curve.kind != "inrcodec":
            continue
        results = json.loads((folder / f"{curve.name}.json").read_text())["results"]
        meta = curve.meta
        model = (meta.get("config") or {}).get("model")
        model_text = f"model {model['id']} (sha256 {model['sha256'][:12]}...)" if model else "no model"
        lines += [f"### {curve.label}", "", f"{meta.get('hardware')}, {meta.get('threads')} threads; {model_text}", "",
                  "| quality | bpp | PSNR-RGB (dB) | PSNR of mean MSE (dB) | MS-SSIM | encode (s) | decode (s) |",
                  "|---|---|---|---|---|---|---|"]
        for i, quality in enumerate(results["quality"]):
            ssim = results["ms-ssim-rgb"][i]
            lines.append(
                f"| {quality} | {results['bpp'][i]:.4f} | {results['psnr-rgb'][i]:.2f} | "
                f"{results['psnr-rgb-of-mean-mse'][i]:.2f} | {'n/a' if ssim is None else f'{ssim:.4f}'} | "
                f"{results['encoding_time'][i]:.2f} | {results['decoding_time'][i]:.3f} |")
        lines.append("")
    return "\n".join(lines)


def rich_table(rows: list[dict], dataset: str):
    """The BD table for the terminal."""
    from rich.table import Table

    table = Table(title=f"BD-rate on {dataset} (negative = fewer bits than the reference)")
    for column in ("inrcodec", "reference", "kind", "BD-rate", "BD-PSNR", "BD-rate (MS-SSIM)"):
        table.add_column(column, justify="right" if column.startswith("BD") else "left")
    for row in rows:
        table.add_row(row["test_label"], row["reference_label"], row["reference_kind"],
                      _format(row["bd_rate_percent"], "%"), _format(row["bd_psnr_db"], "dB"),
                      _format(row.get("bd_rate_ms_ssim_percent"), "%"))
    return table


def plot(curves: list[Curve], folder: Path, title: str) -> list[Path]:
    """rd.png and rd.svg: PSNR-RGB (and MS-SSIM in dB where curves have it) against bpp."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede pyplot's import
    import matplotlib.pyplot as plt

    with_ssim = [c for c in curves if c.ms_ssim is not None]
    fig, axes = plt.subplots(1, 2 if with_ssim else 1, figsize=(13 if with_ssim else 7, 5.2), squeeze=False)
    styles = {"inrcodec": dict(linewidth=2.2, marker="o", markersize=4),
              "live": dict(linewidth=1.3, marker=".", markersize=4),
              "published": dict(linewidth=1.2, linestyle="--", marker="x", markersize=4)}
    max_bpp = 1.15 * max(max(c.bpp) for c in curves if c.kind == "inrcodec") if any(
        c.kind == "inrcodec" for c in curves) else None
    for curve in curves:
        style = styles.get(curve.kind, styles["published"])
        label = curve.label + (" (published)" if curve.kind == "published" else "")
        axes[0][0].plot(curve.bpp, curve.psnr, label=label, **style)
        if with_ssim and curve.ms_ssim is not None:
            axes[0][1].plot(curve.bpp, [-10 * math.log10(max(1 - s, 1e-12)) for s in curve.ms_ssim],
                            label=label, **style)
    panels = [(axes[0][0], "PSNR-RGB (dB)")] + ([(axes[0][1], "MS-SSIM (dB, -10 log10(1 - MS-SSIM))")]
                                               if with_ssim else [])
    for axis, ylabel in panels:
        axis.set_xlabel("bits per pixel")
        axis.set_ylabel(ylabel)
        axis.grid(True, alpha=0.3)
        if max_bpp:
            axis.set_xlim(0, max_bpp)
            axis.autoscale(axis="y")
        axis.legend(fontsize=8)
    _clip_y(axes[0][0], curves, max_bpp, "psnr")
    fig.suptitle(title)
    fig.tight_layout()
    return save_figure(fig, folder)


def save_figure(fig, folder: Path, stem: str = PLOT_STEM) -> list[Path]:
    """Write a matplotlib figure as folder/stem.png and .svg (each via a temporary file), close it; -> paths."""
    import matplotlib.pyplot as plt

    paths = []
    for suffix in ("png", "svg"):
        path = folder / f"{stem}.{suffix}"
        temporary = path.with_name(f".{path.name}.tmp")
        fig.savefig(temporary, dpi=130, format=suffix, metadata={"Date": None} if suffix == "svg" else None)
        temporary.replace(path)
        paths.append(path)
    plt.close(fig)
    return paths


def _clip_y(axis, curves: list[Curve], max_bpp: float | None, field: str) -> None:
    """Fit the y range to the points inside the x range, so far-off anchors do not squash the plot."""
    if not max_bpp:
        return
    values = [y for c in curves for x, y in zip(c.bpp, getattr(c, field)) if x <= max_bpp]
    if values:
        axis.set_ylim(min(values) - 0.5, max(values) + 0.5)
