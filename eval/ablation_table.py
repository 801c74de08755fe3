"""One table of the v2 ablations, gathered from the files the ablation scripts wrote.

    python eval/ablation_table.py --results eval/results/v2 --out eval/results/v2/ablation.md

Reads ablation_context.json (eval/ablate_context.py), ablation_architecture.json, ablation_training.json and
ablation_per_quality.json (eval/ablate_architecture.py), ablation_refine.json (eval/ablate_refine.py), ablation_refine_lr.json (eval/ablate_refine_lr.py) and
ablation_modulation*.json (eval/ablate_modulation.py), whichever exist, and writes each variant's rate change against its reference with
how it was measured. Negative = fewer bits at equal PSNR.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f} %"


def decibels(value: float | None) -> str:
    return "" if value is None else f" ({value:+.2f} dB)"


def context_rows(report: dict) -> list[tuple[str, str, str]]:
    how = f"same latents, ideal bits, model {report['model']['id']} {report['model']['sha256'][:8]}"
    return [("entropy model", name, percent(v["rate_vs_all_sources_percent"]) + f" [{how}]")
            for name, v in report["variants"].items()]  # fmt: skip


def architecture_rows(report: dict, component: str) -> list[tuple[str, str, str]]:
    training = report["training"]
    steps = report.get("refine_steps", [0])
    how = f"from scratch, {training['steps']} steps of {training['batch']}x{training['crop']}^2, ideal bits"
    rows = []
    for name, v in report["variants"].items():
        if len(steps) == 1:
            figure = percent(v["vs_baseline"]["bd_rate_percent"]) + decibels(v["vs_baseline"]["bd_psnr_db"])
        else:
            figure = ", ".join(f"{n} steps: " + percent(v["vs_baseline_after_refinement"][str(n)]["bd_rate_percent"])
                               + decibels(v["vs_baseline_after_refinement"][str(n)]["bd_psnr_db"]) for n in steps)  # fmt: skip
        rows.append((component, name, f"{figure} [{how}]"))
    return rows


def refine_rows(report: dict) -> list[tuple[str, str, str]]:
    how = f"real files, model {report['model']['id']} {report['model']['sha256'][:8]}"
    return [("encoder refinement", name, percent(v["bd_rate_vs_reference_percent"]) + f" [{how}]")
            for name, v in report["variants"].items()]  # fmt: skip


def refine_step_rows(report: dict) -> list[tuple[str, str, str]]:
    how = f"real files, model {report['model']['id']} {report['model']['sha256'][:8]}"
    return [("encoder refinement step", f"{steps} steps, Adam step {rate} (the encoder's rule: {run['rule']:.4g})",
             percent(result["bd_rate_vs_rule_percent"]) + f" [{how}]")
            for steps, run in report["steps"].items() for rate, result in run["learning_rates"].items()]  # fmt: skip


def modulation_rows(report: dict) -> list[tuple[str, str, str]]:
    how = f"real .inr files, MODU included, {report['crop']}, model {report['model']['id']} {report['model']['sha256'][:8]}"
    return [("synthesis modulation", f"on ({report['modulation']}), step {report.get('modulation_lr', 2e-3):g}, "
             f"{report['steps']} refinement steps, vs off",
             percent(report["bd_rate_with_vs_without_percent"]) + f" [{how}]")]  # fmt: skip


def equal_time_rows(report: dict, results: Path) -> list[tuple[str, str, str]]:
    """The refinement-in-the-loop variant of ablation_training.json against plain training for its wall time."""
    from inrcodec.metrics import bd_psnr, bd_rate

    training = json.loads((results / "ablation_training.json").read_text())
    refined = next(v for name, v in training["variants"].items() if v["variant"].get("inner_steps"))
    baseline = next(iter(report["variants"].values()))
    cells = []
    for key, reference in baseline["points_after_refinement"].items():
        points = refined["points_after_refinement"][key]
        args = ([p["bpp"] for p in reference], [p["psnr"] for p in reference],
                [p["bpp"] for p in points], [p["psnr"] for p in points])  # fmt: skip
        figures = []
        for measure_bd in (bd_rate, bd_psnr):
            try:
                figures.append(measure_bd(*args))
            except ValueError:  # no shared range
                figures.append(None)
        cells.append(f"{key} steps: {percent(figures[0])}{decibels(figures[1])}")
    how = (f"{training['training']['steps']} steps with inner refinement ({refined['train_seconds']:.0f} s) vs "
           f"{report['training']['steps']} plain steps ({baseline['train_seconds']:.0f} s), ideal bits")
    return [("training", "refinement in the training loop, at equal wall time", f"{', '.join(cells)} [{how}]")]


SOURCES = (
    ("ablation_context.json", lambda r, _: context_rows(r)),
    ("ablation_architecture.json", lambda r, _: architecture_rows(r, "architecture")),
    ("ablation_training.json", lambda r, _: architecture_rows(r, "training")),
    ("ablation_training_equal_time.json", equal_time_rows),
    ("ablation_per_quality.json", lambda r, _: architecture_rows(r, "training")),
    ("ablation_refine.json", lambda r, _: refine_rows(r)),
    ("ablation_refine_lr.json", lambda r, _: refine_step_rows(r)),
    *((f"ablation_modulation{preset}{lr}.json", lambda r, _: modulation_rows(r))
      for preset in ("", "_fast") for lr in ("", "_lr2e-3", "_lr1e-2")),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("eval/results/v2"))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    lines = ["# v2 ablations", "", "Rate change against each group's reference (the first row of the group), on Kodak "
             "(images and crops as in each file). Written by eval/ablation_table.py from the files named.", "",
             "| component | variant | rate change [how measured] | file |", "|---|---|---|---|"]  # fmt: skip
    for name, rows_of in SOURCES:
        path = args.results / name
        if not path.is_file():
            lines.append(f"| - | not measured | - | {name} (missing) |")
            continue
        for component, variant, figure in rows_of(json.loads(path.read_text()), args.results):
            lines.append(f"| {component} | {variant} | {figure} | {name} |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
