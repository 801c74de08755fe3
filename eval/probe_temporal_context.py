"""How much could a temporal entropy context save in format 2.3 files? Measured on the integers of real files.

Two questions, each answered from the decoded latents of `inrcodec encode` output (no encoder run):

1. Residual levels: the residual is coded by the image context model, blind to the prediction. Would its
   Laplace scales be better if they also read how much the two references disagree there (|w0 - w1|, the
   one-way warps of a B-frame's references) and the block's mode? Per vertex, the scale bin is shifted by an
   offset chosen per bucket (floor(log2(|w0 - w1| + 1)) capped at 4: |w0 - w1| in 0, 1-2, 3-6, 7-14, 15+;
   one-way or BOTH blocks; level 0 or coarser): fitted on the even predicted frames and measured on the odd ones (a fixed context, as a trained one would
   be), and fitted per frame (an upper bound for offsets signalled per frame, header not counted).
2. The finest level of frames that code it intra (intra_levels 1): its bits as coded (intra, reading the
   frame's level 1) against the bits it would take as a residual against the prediction, per motion block, and
   with the cheaper of the two per block (a block-wise choice, its flag not counted).
3. That finest level coded intra, with its Laplace moved by the prediction p: mean mu + a (p - mu) (mu the
   image context's mean) and scale bin s + ds, (a, ds) per bucket of |p - mu| (0, 1/4, 1/2, 1, 3/2, 5/2 up)
   and |w0 - w1| (0..3): fitted on the even predicted frames, measured on the odd ones; and with the bucket
   also split by the image context's scale bin s (its ds then a scale bin of its own).

Bits are ideal code lengths -log2 p under the normative tables (inrcodec.entropy.tables), which the ANS
streams match to within a few bytes; they size an opportunity, no file is written.

    OMP_NUM_THREADS=1 python eval/probe_temporal_context.py walk17_q1.inr walk17_q7.inr \
        --out eval/results/video-v2/temporal_context_probe.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

OFFSETS = range(-16, 17)


def _bits(residual: np.ndarray, table: np.ndarray) -> np.ndarray:
    from inrcodec.entropy.tables import ALPHABET_HALF, table_bits

    return table_bits()[table, np.clip(residual + ALPHABET_HALF, 0, 2 * ALPHABET_HALF)]


def _moved_bits(q, mean, scale):
    """Ideal bits of q under the table of a real-valued mean and a scale bin (clamped to the tables)."""
    from inrcodec.entropy.tables import ALPHABET_HALF, N_FRACTIONS, N_SCALES, table_bits

    integer = np.floor(mean + 0.5).astype(np.int64)
    fraction = np.clip(np.floor((mean - integer + 0.5) * N_FRACTIONS).astype(np.int64), 0, N_FRACTIONS - 1)
    table = np.clip(scale, 0, N_SCALES - 1) * N_FRACTIONS + fraction
    return table_bits()[table, np.clip(q - integer + ALPHABET_HALF, 0, 2 * ALPHABET_HALF)]


def moved_context(vertices: dict, by_scale: bool) -> dict:
    """Question 3 on the finest level's vertices (arrays frame, q, m, table, p, w0, w1)."""
    from inrcodec.entropy.tables import N_FRACTIONS

    q, p, table = vertices["q"], vertices["p"], vertices["table"]
    scale = table // N_FRACTIONS
    mu = vertices["m"] + (table % N_FRACTIONS + 0.5) / N_FRACTIONS - 0.5
    bucket = np.digitize(np.abs(p - mu), [0.25, 0.5, 1, 1.5, 2.5]) * 4 + np.minimum(np.abs(vertices["w0"] -
                                                                                          vertices["w1"]), 3)
    if by_scale:
        bucket = bucket + 24 * scale
    frames = np.unique(vertices["frame"])
    train = np.isin(vertices["frame"], frames[::2])
    base = _bits(q - vertices["m"], table)
    shifts = range(-16, 17)
    total, fitted = 0.0, {}
    for b in np.unique(bucket[~train]):
        fit, test = train & (bucket == b), ~train & (bucket == b)
        if not fit.any():
            total += float(base[test].sum())
            continue
        best = None
        for a in (0, 0.25, 0.5, 0.75, 1.0):
            mean = mu[fit] + a * (p[fit] - mu[fit])
            for ds in shifts:
                bits = float(_moved_bits(q[fit], mean, scale[fit] + ds).sum())
                if best is None or bits < best[0]:
                    best = (bits, a, ds)
        _, a, ds = best
        fitted[int(b)] = (a, ds)
        total += float(_moved_bits(q[test], mu[test] + a * (p[test] - mu[test]), scale[test] + ds).sum())
    held_out = float(base[~train].sum())
    return {"held_out_bytes_as_coded": held_out / 8, "held_out_bytes_moved": total / 8,
            "saving_percent": 100 * (1 - total / held_out), "buckets": len(fitted)}


def probe_file(data: bytes) -> dict:
    from inrcodec.bitstream.video_v2 import KIND_INTRA
    from inrcodec.encoder.temporal import vertex_tables
    from inrcodec.entropy.context_model import padded_grid
    from inrcodec.entropy.inter import skipped_vertices
    from inrcodec.entropy.motion import BLOCK, decode_motion, predict_grids, vertex_blocks, warp_grid
    from inrcodec.entropy.tables import N_FRACTIONS, N_SCALES
    from inrcodec.video_decoder import VideoDecoder

    decoder = VideoDecoder(data)
    nets = decoder.shared.contexts
    decoded, samples, finest, finest_vertices = {}, [], [], []
    for position, frame in enumerate(decoder.file.frames):
        decoded[frame.index] = decoder._decode(position, decoded)
        if frame.kind == KIND_INTRA:
            continue
        motion = decoder.file.streams(position)[0]
        fields, modes, skip = decode_motion(motion, decoder.blocks, count=len(frame.references))
        references = [decoded[r] for r in frame.references]
        prediction = predict_grids(references, fields, modes, BLOCK)
        q, first = decoded[frame.index], frame.intra_levels
        residuals = [q[level] - prediction[level] for level in range(first, len(q))]
        skipped = skipped_vertices([r.shape for r in residuals], first, skip)
        for level, rows, cols, r, table in vertex_tables(residuals, nets, frame.residual_code, first, skipped):
            model_level = first + level
            warps = [warp_grid(g[model_level], f, model_level, BLOCK) for g, f in zip(references, fields)]
            by, bx, _, _ = vertex_blocks(residuals[level].shape, model_level, BLOCK, modes.shape)
            disagreement = np.abs(warps[0] - warps[-1])[rows, cols]
            bucket = np.minimum(np.floor(np.log2(disagreement + 1)).astype(int), 4)
            bucket += 5 * (modes[by, bx][rows, cols] != 0) + 10 * (model_level > 0)
            samples.append((frame.index, r, table, bucket))
        if first == 1:
            # level 0 as coded (intra, reading the frame's level 1) and as a residual (reading residual level 1)
            intra = vertex_tables([q[0]], nets, decoder.file.rate_code, 0, None, padded_grid(q[1], 1))
            warps = [warp_grid(g[0], f, 0, BLOCK) for g, f in zip(references, fields)]
            for _, rows, cols, r, table in intra:
                finest_vertices.append({"frame": np.full(rows.size, frame.index), "q": q[0][rows, cols],
                                        "m": q[0][rows, cols] - r, "table": table, "p": prediction[0][rows, cols],
                                        "w0": warps[0][rows, cols], "w1": warps[-1][rows, cols]})  # fmt: skip
            as_residual = vertex_tables([q[0] - prediction[0], *residuals], nets, frame.residual_code, 0,
                                        None)  # fmt: skip
            by, bx, _, _ = vertex_blocks(q[0].shape, 0, BLOCK, modes.shape)
            per_block = {}
            for name, params in (("intra", intra), ("residual", [p for p in as_residual if p[0] == 0])):
                total = np.zeros(modes.shape)
                for _, rows, cols, r, table in params:
                    np.add.at(total, (by[rows, cols], bx[rows, cols]), _bits(r, table))
                per_block[name] = total
            finest.append({"frame": frame.index, "intra_bits": float(per_block["intra"].sum()),
                           "residual_bits": float(per_block["residual"].sum()),
                           "blockwise_min_bits": float(np.minimum(*per_block.values()).sum()),
                           "blocks_cheaper_as_residual": float((per_block["residual"] < per_block["intra"]).mean())})

    frames = np.concatenate([np.full(s[1].size, s[0]) for s in samples])
    r, table, bucket = (np.concatenate([s[k] for s in samples]) for k in (1, 2, 3))
    scale, fraction = table // N_FRACTIONS, table % N_FRACTIONS

    def bits_with(offset: int, where: np.ndarray) -> float:
        shifted = np.clip(scale[where] + offset, 0, N_SCALES - 1) * N_FRACTIONS + fraction[where]
        return float(_bits(r[where], shifted).sum())

    base = _bits(r, table)
    predicted = np.unique(frames)
    train, test = np.isin(frames, predicted[::2]), ~np.isin(frames, predicted[::2])
    fitted = {int(b): min(OFFSETS, key=lambda o: bits_with(o, train & (bucket == b))) for b in np.unique(bucket[train])}
    test_bits = sum(bits_with(fitted.get(int(b), 0), test & (bucket == b)) for b in np.unique(bucket[test]))
    per_frame = sum(min(bits_with(o, (frames == f) & (bucket == b)) for o in OFFSETS)
                    for f in predicted for b in np.unique(bucket[frames == f]))  # fmt: skip
    sizes = [sum(f.lengths) for f in decoder.file.frames]
    return {
        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "frames": len(decoder.file.frames),
        "width": decoder.file.width, "height": decoder.file.height, "rate_code": decoder.file.rate_code,
        "intra_frame_bytes": sum(s for s, f in zip(sizes, decoder.file.frames) if f.kind == KIND_INTRA),
        "motion_bytes": sum(f.lengths[0] for f in decoder.file.frames),
        "residual_stream_bytes": sum(f.lengths[1] for f in decoder.file.frames if f.kind != KIND_INTRA),
        "intra_level_stream_bytes": sum(f.lengths[2] for f in decoder.file.frames),
        "residual": {
            "vertices": int(r.size), "ideal_bytes": float(base.sum() / 8),
            "fixed_context_saving_held_out_percent": 100 * (1 - test_bits / float(base[test].sum())),
            "fixed_offsets_by_bucket": fitted,
            "per_frame_offsets_saving_percent": 100 * (1 - per_frame / float(base.sum())),
        },
        "finest_level_of_intra_level_frames": finest,
        "finest_level_moved_by_prediction": None if not finest_vertices else {
            name: moved_context({k: np.concatenate([v[k] for v in finest_vertices]) for k in finest_vertices[0]},
                                by_scale)
            for name, by_scale in (("by_disagreement", False), ("by_disagreement_and_scale", True))},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--made-by", default="", help="how the files were encoded (recorded in the results)")
    args = parser.parse_args()
    from inrcodec import hardware

    results = {}
    for path in args.files:
        results[path.name] = probe_file(path.read_bytes())
        summary = results[path.name]
        print(json.dumps({path.name: {k: summary[k] for k in ("bytes", "motion_bytes", "residual",
                                                              "finest_level_moved_by_prediction")}}), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": f"python eval/probe_temporal_context.py {' '.join(p.name for p in args.files)} --out {args.out}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), **hardware.results_machine(),
        "files_made_by": args.made_by, "files": results,
    }, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
