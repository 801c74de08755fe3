"""A clip's frames coded in worker processes (`inrcodec encode CLIP --jobs N`).

A frame needs only its references coded, so frames of one temporal layer, and the groups' intra frames, can be
coded at once: with hierarchical B-frames every frame but a group's middle one has a neighbour to run beside.
Each worker is a spawned process (torch is not fork-safe once its thread pool runs) of one torch thread that
loads the model once; it gets a frame's source, its references' sources and coded frames, and returns the coded
frame. The frames are coded exactly as one process of one thread codes them (inrcodec.encoder.clip.encode_frame),
so the file does not depend on N.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from inrcodec.encoder.clip import ClipSettings, CodedFrame, FramePlan, encode_frame
from inrcodec.errors import InrCodecError
from inrcodec.model.registry import ModelEntry
from inrcodec.runtime import start_worker

_worker_model: dict = {}  # in a worker: the loaded shared model, by model id


def _code(plan: FramePlan, pixels: np.ndarray, reference_pixels: list[np.ndarray], references: list[CodedFrame],
          entry: ModelEntry, settings: ClipSettings, rate_code: int) -> CodedFrame:  # fmt: skip
    from inrcodec.model.shared import load_shared

    if entry.id not in _worker_model:
        _worker_model[entry.id] = load_shared(entry)
    return encode_frame(plan, pixels, reference_pixels, references, entry, _worker_model[entry.id], settings,
                        rate_code)  # fmt: skip


def encode_in_workers(frames: list[np.ndarray], plans: list[FramePlan], entry: ModelEntry, settings: ClipSettings,
                      rate_code: int, jobs: int, progress=None) -> list[CodedFrame]:  # fmt: skip
    """The frames (uint8 [H, W, 3], display order) coded in `jobs` processes; plans in coding order -> the coded
    frames in that order. At most `jobs` frames are in flight, the earliest in coding order whose references are
    coded first. progress(done, total) after each frame. InrCodecError if a worker process dies."""
    coded: dict[int, CodedFrame] = {}
    waiting = list(plans)
    running: dict[Future, FramePlan] = {}
    context = multiprocessing.get_context("spawn")
    try:
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=start_worker, initargs=(1,)) as pool:
            while waiting or running:
                ready = [plan for plan in waiting if all(r in coded for r in plan.references)]
                for plan in ready[: jobs - len(running)]:
                    waiting.remove(plan)
                    future = pool.submit(_code, plan, frames[plan.index], [frames[r] for r in plan.references],
                                         [coded[r] for r in plan.references], entry, settings, rate_code)  # fmt: skip
                    running[future] = plan
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    coded[running.pop(future).index] = future.result()
                    if progress is not None:
                        progress(len(coded), len(plans))
    except BrokenProcessPool:
        raise InrCodecError("a frame worker process stopped (out of memory?); try fewer --jobs") from None
    return [coded[plan.index] for plan in plans]
