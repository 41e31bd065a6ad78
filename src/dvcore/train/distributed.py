"""Data-parallel training under torchrun: NCCL on GPU, gloo on CPU."""

from __future__ import annotations

import os
from typing import Any

import attrs
import torch
import torch.distributed as dist


@attrs.frozen
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes in the environment (a no-op without torchrun)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    info = DistInfo(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
    return info


def current_rank() -> int:
    """This process's rank in the initialized process group; 0 without one."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def device_for(info: DistInfo, device: torch.device) -> torch.device:
    return torch.device("cuda", info.local_rank) if device.type == "cuda" and info.enabled else device


def broadcast(obj: Any, info: DistInfo) -> Any:
    """Rank 0's value of a picklable object, on every rank."""
    if not info.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def any_rank(flag: bool, info: DistInfo) -> bool:
    """True on every rank when ``flag`` is true on any rank."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0])
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
