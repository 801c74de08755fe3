"""The tiles of a tiled encode's refinement in worker processes (`encode --jobs N` on one tiled image).

torch's threads speed up these small per-tile operations little (two threads: 1.15x one), so N processes of one
thread each evaluate every N-th tile. The canvas tensors they read (the proxy's values) and the gradients they
write (one set per worker, so no two processes write the same memory) live in shared memory; a step sends each
worker only the modulation and gets back its sums. Workers start with spawn (torch is not fork-safe once its
thread pool runs) and each loads the model once.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.multiprocessing as mp

from inrcodec.encoder.model_torch import load_codec_model
from inrcodec.encoder.tiled import TiledCost
from inrcodec.entropy.tiles import TileGrid
from inrcodec.errors import InrCodecError
from inrcodec.model.registry import ModelEntry

VIEWS = ("rounded", "coded", "rendered")


class TileWorkers:
    """`jobs` processes evaluating the tiles of one image; a context manager (the processes stop on exit)."""

    def __init__(self, jobs: int, entry: ModelEntry, pixels: np.ndarray, grid: TileGrid, rate_code: int, lam: float,
                 proxy: str) -> None:  # fmt: skip
        shapes = [grid.grid_shape(level) for level in range(grid.n_levels)]
        self.views = {name: [torch.zeros(shape).share_memory_() for shape in shapes] for name in VIEWS}
        self.grads = [{kind: [torch.zeros(shape).share_memory_() for shape in shapes] for kind in ("identity", "through")}
                      for _ in range(jobs)]  # fmt: skip
        shared_pixels = torch.from_numpy(np.ascontiguousarray(pixels)).share_memory_()
        context = mp.get_context("spawn")
        self.pipes, self.processes = [], []
        for worker in range(jobs):
            mine, theirs = context.Pipe()
            process = context.Process(target=_serve, daemon=True, args=(
                theirs, entry, shared_pixels, grid, rate_code, lam, proxy, self.views, self.grads[worker],
                list(range(worker, grid.count, jobs))))  # fmt: skip
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)

    def tiles(self, views, grads, modulation, soft: bool) -> tuple[float, float]:
        """TiledCost.tiles over every tile, split among the workers; grads None: no backward."""
        for name in VIEWS:
            for buffer, value in zip(self.views[name], views[name]):
                buffer.copy_(value)
        sent = None if modulation is None else modulation.detach().numpy().copy()
        for pipe in self.pipes:
            pipe.send((sent, grads is not None, soft))
        squared = bits = 0.0
        for pipe, worker_grads in zip(self.pipes, self.grads):
            reply = pipe.recv()
            if isinstance(reply, str):
                raise InrCodecError(f"a tile worker failed: {reply}")
            tile_squared, tile_bits, modulation_grad = reply
            squared, bits = squared + tile_squared, bits + tile_bits
            if grads is None:
                continue
            for target, part in zip(grads["rounded"], worker_grads["identity"]):
                target += part
            if soft:
                for target, part in zip(grads["coded"], worker_grads["through"]):
                    target += part
            if modulation_grad is not None and modulation is not None and modulation.requires_grad:
                if modulation.grad is None:
                    modulation.grad = torch.zeros_like(modulation)
                modulation.grad += torch.from_numpy(modulation_grad)
        return squared, bits

    def __enter__(self) -> "TileWorkers":
        return self

    def __exit__(self, *exc) -> None:
        for pipe in self.pipes:
            try:
                pipe.send(None)
            except OSError:
                pass
        for process in self.processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def _serve(pipe, entry, pixels, grid, rate_code, lam, proxy, views, grads, indices) -> None:
    """A worker's loop: per request (modulation, backward?, soft?), its tiles' sums; None stops it."""
    from inrcodec.runtime import start_worker

    start_worker(1)
    cost = TiledCost(load_codec_model(entry), pixels.numpy(), grid, rate_code, lam, proxy)
    while (request := pipe.recv()) is not None:
        sent, backward, soft = request
        try:
            modulation = None if sent is None else torch.from_numpy(sent).requires_grad_(backward)
            my_grads = None
            if backward:
                for kind in grads.values():
                    for buffer in kind:
                        buffer.zero_()
                through = grads["through"] if soft else grads["identity"]
                my_grads = {"rounded": grads["identity"], "coded": through, "rendered": through}
            squared, bits = cost.tiles(indices, views, my_grads, modulation)
            modulation_grad = None if modulation is None or modulation.grad is None else modulation.grad.numpy()
            pipe.send((squared, bits, modulation_grad))
        except Exception as exc:  # reported to the encoder, which ends with one line
            pipe.send(f"{type(exc).__name__}: {exc}")
