"""A clip's encode time with `--jobs 2` (frames coded at once in two processes of one thread) against one
process with one thread and with every CPU's thread; the bytes of the one-thread runs must be equal.

    python eval/bench_clip_jobs.py --clip ../shared/data/video/vid4_walk_720x480 --frames 9 --preset fast \
        --quality 4 --out eval/results/video-v2/clip_jobs.json

The first --frames frames are copied to a temporary folder and encoded by inrcodec.video.clip_v2.encode_clip_v2
(the code `inrcodec encode` runs) in this process; encode_seconds is the encoder's own (reading the frames to
the file's bytes). Run it on an otherwise idle machine: the runs compete for the same cores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, required=True, help="a folder of PNG frames")
    parser.add_argument("--frames", type=int, default=9)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--quality", type=int, default=4)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from inrcodec.runtime import tune_process

    tune_process()
    import torch

    import inrcodec
    from inrcodec import hardware
    from inrcodec.video.clip_v2 import encode_clip_v2

    cpus = os.cpu_count() or 1
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for frame in sorted(args.clip.glob("*.png"))[: args.frames]:
            shutil.copy(frame, folder)
        for jobs, threads in ((1, 1), (2, 1), (1, cpus)):
            torch.set_num_threads(threads)
            result = encode_clip_v2(Path(folder), quality=args.quality, preset=args.preset, jobs=jobs)
            stats = result.stats
            runs.append({"jobs": jobs, "threads_per_job": 1 if jobs > 1 else threads, "bytes": stats["bytes"],
                         "psnr_rgb": stats["psnr_rgb"], "encode_seconds": stats["encode_seconds"],
                         "sha256": hashlib.sha256(result.data).hexdigest()})  # fmt: skip
            print(json.dumps(runs[-1]), flush=True)
    if runs[0]["sha256"] != runs[1]["sha256"]:
        raise SystemExit("--jobs 2 wrote other bytes than one process with one thread")
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inrcodec": inrcodec.__version__, "clip": args.clip.name, "frames": args.frames, "preset": args.preset,
        "quality": args.quality, **hardware.results_machine(), "load_average_at_end": os.getloadavg(),
        "runs": runs, "speedup_jobs2_vs_one_thread": runs[0]["encode_seconds"] / runs[1]["encode_seconds"],
        "speedup_jobs2_vs_all_threads": runs[2]["encode_seconds"] / runs[1]["encode_seconds"],
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
