"""Random access in formats 2.3 - 2.5: seconds to decode each frame of a video file alone (best of 3), in this
process: wall seconds and the process's CPU seconds (the same on an idle machine; on a busy one, the CPU seconds
are what the decoder itself spent).

A frame reads its reference chain (an intra frame, or up to log2(group) + 2 frames' entropy decodes) and renders
once. The files are made by `inrcodec encode`, e.g. the first 17 frames of Vid4 walk:

    inrcodec encode walk17/ -o walk17_q1.inr --preset fast -Q 1
    OMP_NUM_THREADS=1 python eval/bench_frame_decode.py walk17_q1.inr walk17_q7.inr --label after \
        --out eval/results/video-v2/frame_decode.json

--label names the run; a file that exists gains the run (so that code before and after a change, run one after
the other with PYTHONPATH pointing at each, land in one file).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

REPEATS = 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import inrcodec
    from inrcodec import hardware
    from inrcodec.video_decoder import VideoDecoder

    files = []
    for path in args.files:
        data = path.read_bytes()
        decoder = VideoDecoder(data)
        seconds, cpu_seconds = [], []
        for index in range(decoder.frame_count):
            times, cpu_times = [], []
            for _ in range(REPEATS):
                start, cpu_start = time.perf_counter(), time.process_time()
                VideoDecoder(data).frame(index)
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu_start)
            seconds.append(min(times))
            cpu_seconds.append(min(cpu_times))
        files.append({
            "file": path.name, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "frames": decoder.frame_count, "width": decoder.file.width, "height": decoder.file.height,
            "group": decoder.file.group, "seconds_per_frame": seconds, "max_seconds": max(seconds),
            "cpu_seconds_per_frame": cpu_seconds, "max_cpu_seconds": max(cpu_seconds),
            "chain_length": [len(decoder.chain(k)) for k in range(decoder.frame_count)],
        })  # fmt: skip
        print(json.dumps({"file": path.name, "max_seconds": max(seconds), "max_cpu_seconds": max(cpu_seconds)}),
              flush=True)  # fmt: skip
    run = {
        "label": args.label,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inrcodec": inrcodec.__version__,
        "package": str(Path(inrcodec.__file__).parent),
        "threads": os.environ.get("OMP_NUM_THREADS", ""),
        "load_average_at_end": os.getloadavg(),  # other processes on the machine: > 1 on 2 CPUs is a busy one
        **hardware.results_machine(),
        "files": files,
    }  # fmt: skip
    result = json.loads(args.out.read_text()) if args.out.exists() else {"runs": []}
    result["runs"] = [r for r in result["runs"] if r["label"] != args.label] + [run]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
