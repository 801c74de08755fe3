"""Convert the published Kodak rate-distortion curves in ../shared/anchors/kodak into CompressAI-schema JSON.

Run from the repository root:

    python eval/build_anchors.py [--source ../shared/anchors/kodak] [--out eval/anchors/kodak]

Every output file holds the upstream numbers unchanged (or, for Cool-chic, their mean over the 24 images) plus a
`meta` block naming the upstream repository, commit and path. Stdlib and numpy only, so it runs without torch.
"""

import argparse
import csv
import json
import re
import sys
from pathlib import Path

import numpy as np

KODAK_IMAGES = 24

COMPRESSAI = ("InterDigitalInc/CompressAI", "869a9f5d4126d015b7de8f203fe60ee9e1608193")
COINPP = ("EmilienDupont/coinpp", "55cd43107fed6e20081567765d91197bf6fb5bca")
COIN = ("EmilienDupont/coin", "a21e50746a9f46ac74e165cc77a68ebf5037c48a")
COOLCHIC = ("Orange-OpenSource/Cool-Chic", "a6fe38a414dd098b39c41636bd6e423626402f7e")

# A comma directly before a closing bracket, the only non-JSON construct in the COIN/COIN++ files (they are read
# upstream with json5). No string in those files contains ",]" or ",}", so the substitution cannot touch text.
_TRAILING_COMMA = re.compile(r",(\s*[\]}])")


def read_json5ish(path: Path) -> dict:
    """Read a JSON file that may have trailing commas; the values are not touched."""
    text = path.read_text(encoding="utf-8")
    return json.loads(_TRAILING_COMMA.sub(r"\1", text))


def meta(repo_commit: tuple[str, str], source_path: str, shared_copy: str, conversion: str, **extra) -> dict:
    repo, commit = repo_commit
    return {
        "kind": "published",
        "dataset": "kodak",
        "source_repo": repo,
        "source_commit": commit,
        "source_path": source_path,
        "shared_copy": shared_copy,
        "conversion": conversion,
        "psnr_convention": "mean of per-image PSNR",
        **extra,
    }


def sorted_results(bpp, psnr, ms_ssim=None) -> dict:
    """CompressAI `results` block with every series reordered so that bpp ascends."""
    bpp = [float(v) for v in bpp]
    psnr = [float(v) for v in psnr]
    if len(bpp) != len(psnr) or (ms_ssim is not None and len(ms_ssim) != len(bpp)):
        raise ValueError("series of different lengths")
    order = sorted(range(len(bpp)), key=bpp.__getitem__)
    results = {"bpp": [bpp[i] for i in order], "psnr-rgb": [psnr[i] for i in order]}
    if ms_ssim is not None:
        results["ms-ssim-rgb"] = [float(ms_ssim[i]) for i in order]
    return results


def coinpp(source: Path) -> dict:
    shared = "coinpp_repo_coinpp.json"
    data = read_json5ish(source / shared)
    # results/kodak/coinpp.json is one curve (psnr, bpp), the file plots.py draws as COIN++ in the paper's Kodak
    # figure; the per-bit-depth/step sub-curves live only in results/kodak/ablations/.
    res = data["results"]
    return {
        "name": "COIN++",
        "description": "COIN++ (Dupont et al., TMLR 2022, arXiv:2201.12904): a meta-learned neural field whose "
        "per-image modulations are quantised to 5 bits and entropy coded.",
        "meta": meta(
            COINPP,
            "results/kodak/coinpp.json",
            shared,
            "trailing commas removed; the single upstream curve (the one plots.py draws as COIN++ in the Kodak "
            "rate-distortion figure: 5 bits, 3 inner steps for latent sizes 16/32/64, 10 for 96/128); key 'psnr' "
            "renamed 'psnr-rgb'; values unchanged",
            upstream_name=data["name"],
            upstream_description=data["description"],
        ),
        "results": sorted_results(res["bpp"], res["psnr"]),
    }


def coin(source: Path) -> dict:
    shared = "coin_repo_results.json"
    data = read_json5ish(source / shared)
    # The COIN paper's own repository; coinpp_repo_coin.json (coinpp's results/kodak/coin.json) holds the same
    # numbers, checked here so a change to either copy is noticed.
    other = read_json5ish(source / "coinpp_repo_coin.json")["results"]
    res = data["results"]
    if other["bpp"] != res["bpp"] or other["psnr"] != res["psnr"]:
        raise ValueError("coin_repo_results.json and coinpp_repo_coin.json disagree")
    return {
        "name": "COIN",
        "description": "COIN (Dupont et al., 2021, arXiv:2103.03123): one SIREN overfitted to each image, "
        "its weights stored as 16-bit floats.",
        "meta": meta(
            COIN,
            "results.json",
            shared,
            "trailing commas removed; key 'psnr' renamed 'psnr-rgb'; values unchanged (identical to "
            "EmilienDupont/coinpp results/kodak/coin.json)",
            upstream_name=data["name"],
            upstream_description=data["description"],
        ),
        "results": sorted_results(res["bpp"], res["psnr"]),
    }


def compressai(source: Path, stem: str, name: str, description: str) -> dict:
    shared = f"compressai_{stem}.json"
    data = json.loads((source / shared).read_text(encoding="utf-8"))
    res = data["results"]
    return {
        "name": name,
        "description": description,
        "meta": meta(
            COMPRESSAI,
            f"results/image/kodak/{stem}.json",
            shared,
            "bpp, psnr-rgb and ms-ssim-rgb copied; encoding_time and decoding_time dropped; values unchanged",
            upstream_name=data["name"],
            upstream_description=data["description"],
        ),
        "results": sorted_results(res["bpp"], res["psnr-rgb"], res["ms-ssim-rgb"]),
    }


def coolchic(source: Path) -> dict:
    shared = "coolchic_v3.4_image-kodak.tsv"
    rows: dict[float, dict[str, tuple[float, float]]] = {}
    with open(source / shared, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            per_image = rows.setdefault(float(row["lmbda"]), {})
            if row["seq_name"] in per_image:
                raise ValueError(f"{shared}: {row['seq_name']} twice at lmbda {row['lmbda']}")
            per_image[row["seq_name"]] = (float(row["rate_bpp"]), float(row["psnr_db"]))
    for lmbda, per_image in rows.items():
        if len(per_image) != KODAK_IMAGES:
            raise ValueError(f"{shared}: lmbda {lmbda} has {len(per_image)} images, not {KODAK_IMAGES}")
    # Mean bpp over images equals total bits / total pixels here: every Kodak image has 768x512 pixels.
    lmbdas = sorted(rows, key=lambda lm: np.mean([v[0] for v in rows[lm].values()]))
    bpp = [float(np.mean([v[0] for v in rows[lm].values()])) for lm in lmbdas]
    psnr = [float(np.mean([v[1] for v in rows[lm].values()])) for lm in lmbdas]
    return {
        "name": "Cool-chic v3.4",
        "description": "Cool-chic v3.4 (Orange; Ladune et al., ICCV 2023, and later releases): per-image "
        "overfitted hierarchical latents with a low-complexity decoder (about 1300 MAC/pixel).",
        "meta": meta(
            COOLCHIC,
            "results/v3.4/image-kodak.tsv",
            shared,
            f"per-image rows grouped by lmbda ({len(lmbdas)} values, {KODAK_IMAGES} images each); mean of "
            "rate_bpp and of psnr_db over the 24 images; timing columns dropped",
            lmbda=lmbdas,  # in the order of the results, i.e. by ascending bpp
        ),
        "results": sorted_results(bpp, psnr),
    }


def build(source: Path) -> dict[str, dict]:
    """File name -> anchor document."""
    return {
        "coinpp.json": coinpp(source),
        "coin.json": coin(source),
        "bpg444.json": compressai(
            source,
            "bpg_444_x265_ycbcr",
            "BPG 4:4:4",
            "BPG 0.9.8 (HEVC intra, x265) with 4:4:4 YCbCr chroma, as run by CompressAI.",
        ),
        "vtm.json": compressai(
            source,
            "vtm",
            "VTM",
            "VVC intra coding with the VTM reference software (version not stated upstream), as run by CompressAI.",
        ),
        "coolchic.json": coolchic(source),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("../shared/anchors/kodak"), help="shared copies")
    parser.add_argument("--out", type=Path, default=Path("eval/anchors/kodak"), help="output folder")
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        parser.error(f"no such folder: {args.source}")
    docs = build(args.source)
    args.out.mkdir(parents=True, exist_ok=True)
    for file_name, doc in docs.items():
        # allow_nan=False keeps the files strict JSON.
        text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
        (args.out / file_name).write_text(text, encoding="utf-8")
        bpp, psnr = doc["results"]["bpp"], doc["results"]["psnr-rgb"]
        print(
            f"{args.out / file_name}: {doc['name']}, {len(bpp)} points, "
            f"bpp {bpp[0]:.4f}-{bpp[-1]:.4f}, PSNR {min(psnr):.2f}-{max(psnr):.2f} dB"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
