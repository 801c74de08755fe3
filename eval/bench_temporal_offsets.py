"""Residual scale offsets by temporal bucket, in real bytes: each predicted frame of a format 2.3 file re-codes
its residual stream with per-frame offsets (inrcodec.encoder.temporal) and decodes it back.

The frames' latents are the file's as decoded (no re-encode, no refinement towards the offsets: a lower bound
on what an encoder that knows them would save). Per predicted frame: the residual stream's bytes as written,
re-coded with the fitted offsets (ANS bytes, checked by decoding them back to the same grids), and the
TEMPORAL_BUCKETS bytes that the offsets would take in a frame's header. Format 2.3 has no field for them: this
measures whether a format version with them is worth making.

    OMP_NUM_THREADS=1 python eval/bench_temporal_offsets.py walk17_q1.inr walk17_q7.inr bbp17_q7.inr \
        --out eval/results/video-v2/temporal_offsets.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np


def measure(data: bytes) -> dict:
    from inrcodec.bitstream.video_v2 import KIND_INTRA
    from inrcodec.encoder.temporal import fit_scale_offsets
    from inrcodec.entropy.inter import TEMPORAL_BUCKETS, scale_offset_retable, skipped_vertices, temporal_buckets
    from inrcodec.entropy.motion import BLOCK, decode_motion, predict_grids, reference_disagreement
    from inrcodec.entropy.planes import decode_latents, encode_latents
    from inrcodec.video_decoder import VideoDecoder

    decoder = VideoDecoder(data)
    nets = decoder.shared.contexts
    decoded, frames = {}, []
    for position, frame in enumerate(decoder.file.frames):
        decoded[frame.index] = decoder._decode(position, decoded)
        if frame.kind == KIND_INTRA:
            continue
        motion, residual_stream, _ = decoder.file.streams(position)
        fields, modes, skip = decode_motion(motion, decoder.blocks, count=len(frame.references))
        references = [decoded[r] for r in frame.references]
        prediction = predict_grids(references, fields, modes, BLOCK)
        first, q = frame.intra_levels, decoded[frame.index]
        residuals = [q[level] - prediction[level] for level in range(first, len(q))]
        skipped = skipped_vertices([r.shape for r in residuals], first, skip)
        buckets = temporal_buckets(reference_disagreement(references, fields, BLOCK, first), modes, first)
        offsets = fit_scale_offsets(residuals, nets, frame.residual_code, first, skipped, buckets)
        retable = scale_offset_retable(buckets, offsets)
        stream, coded = encode_latents(residuals, nets, frame.residual_code, first, None, skipped, retable)
        back = decode_latents(stream, [r.shape for r in residuals], nets, frame.residual_code, first, None, skipped,
                              retable)  # fmt: skip
        if not all(np.array_equal(a, b) for a, b in zip(residuals, back)) or not all(
                np.array_equal(a, b) for a, b in zip(residuals, coded)):  # fmt: skip
            raise SystemExit(f"frame {frame.index}: the re-coded residual does not decode to the file's")
        frames.append({"index": frame.index, "frame_bytes": sum(frame.lengths),
                       "residual_bytes": len(residual_stream), "residual_bytes_with_offsets": len(stream),
                       "offsets": offsets.tolist()})  # fmt: skip
    residual = sum(f["residual_bytes"] for f in frames)
    recoded = sum(f["residual_bytes_with_offsets"] for f in frames) + TEMPORAL_BUCKETS * len(frames)
    return {
        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "width": decoder.file.width,
        "height": decoder.file.height, "frames": len(decoder.file.frames), "residual_bytes": residual,
        "residual_bytes_with_offsets_and_header": recoded,
        "residual_saving_percent": 100 * (1 - recoded / residual) if residual else 0.0,
        "file_saving_percent": 100 * (residual - recoded) / len(data),
        "predicted_frames": frames,
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
        results[path.name] = measure(path.read_bytes())
        summary = {k: v for k, v in results[path.name].items() if k != "predicted_frames"}
        print(json.dumps({path.name: summary}), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "command": f"python eval/bench_temporal_offsets.py {' '.join(p.name for p in args.files)} --out {args.out}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), **hardware.results_machine(),
        "files_made_by": args.made_by, "files": results,
    }, indent=2) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
