"""Training one model on several processes: ``torchrun --nproc-per-node N -m har_studio train
--ddp ...``.

torchrun starts N copies of the command and tells each its rank through the environment
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). ``start`` joins them into one
process group: NCCL with one GPU per process (``cuda:LOCAL_RANK``) when CUDA is available and
not ruled out by ``--device cpu``, gloo on CPU processes otherwise (how the tests run it). The
engine (``engine.train(..., ddp=ctx)``) then wraps the model in DistributedDataParallel, gives
each process its share of every epoch through a DistributedSampler (same seed, so the shares
are disjoint and cover the data), divides the batch size among the processes (the global
batch stays the recipe's), reduces the training loss and accuracy across processes and agrees
on stopping. Only rank 0 writes the run folder and the model file and prints progress.
"""

from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)

ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass
class DDPContext:
    """This process's place in the group and the device it trains on."""

    rank: int
    world_size: int
    local_rank: int
    backend: str
    device: object                  # torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def describe(self) -> str:
        return (f"DistributedDataParallel: {self.world_size} processes ({self.backend}), "
                f"global batch split {self.world_size} ways")

    def wrap(self, model):
        """`model` (already on `device`) in DistributedDataParallel."""
        from torch.nn.parallel import DistributedDataParallel

        if self.device.type == "cuda":
            return DistributedDataParallel(model, device_ids=[self.device.index],
                                           output_device=self.device.index)
        return DistributedDataParallel(model)

    def shard(self, n: int, seed: int, epoch: int):
        """This process's indices of an epoch over `n` training windows (DistributedSampler:
        a permutation seeded by seed + epoch, padded to a multiple of the world size)."""
        import torch
        from torch.utils.data import DistributedSampler

        sampler = DistributedSampler(range(n), num_replicas=self.world_size, rank=self.rank,
                                     shuffle=True, seed=seed, drop_last=False)
        sampler.set_epoch(epoch)
        return torch.tensor(list(sampler), dtype=torch.int64)

    def local_batch(self, batch_size: int) -> int:
        """Per-process batch for a global `batch_size` (at least 1)."""
        return max(1, -(-batch_size // self.world_size))

    def sum(self, values: list[float], device) -> list[float]:
        """`values` summed over every process."""
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return [float(v) for v in t.tolist()]

    def any(self, flag: bool, device) -> bool:
        """True on every process when `flag` is true on any (to stop together)."""
        import torch
        import torch.distributed as dist

        t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def under_torchrun() -> bool:
    return all(name in os.environ for name in ENV)


def start(device: str = "auto", timeout_s: float = 600.0) -> DDPContext:
    """Join the process group torchrun set up. ValueError (one line) when not started by
    torchrun or when the requested device cannot be used."""
    import torch
    import torch.distributed as dist

    if not under_torchrun():
        raise ValueError("--ddp trains with several processes started by torchrun, e.g. "
                         "torchrun --nproc-per-node 2 -m har_studio train --ddp ...")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    use_cuda = device in ("auto", "cuda") and torch.cuda.is_available()
    if device == "cuda" and not use_cuda:
        raise ValueError("CUDA was requested but no CUDA GPU is available to torch")
    if device == "mps":
        raise ValueError("--ddp runs on CUDA GPUs or CPU processes, not Apple MPS")
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise ValueError(f"process {local_rank} has no GPU: {torch.cuda.device_count()} "
                             f"visible; use --nproc-per-node {torch.cuda.device_count()}")
        torch.cuda.set_device(local_rank)
        dev, backend = torch.device("cuda", local_rank), "nccl"
    else:
        dev, backend = torch.device("cpu"), "gloo"
    kwargs = {"device_id": dev} if backend == "nccl" else {}
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s), **kwargs)
    log.info("rank %d of %d on %s (%s)", rank, world, dev, backend)
    return DDPContext(rank, world, local_rank, backend, dev)
