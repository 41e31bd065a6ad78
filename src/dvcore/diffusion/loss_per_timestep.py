"""Loss per timestep: mean training loss in buckets of training steps, for analysis.

The notes ask to "look at loss per time step from a fully trained model": the trainer feeds
every batch's (t, per-sample loss) and logs, per bucket, its centre (in training steps), its
mean loss and its count. Sums and counts are float64 / long tensors, so data-parallel
trainers can all-reduce them before ``compute``.
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


class LossPerTimestep:
    """Accumulates per-sample losses into `num_buckets` equal buckets of the T training steps."""

    def __init__(self, num_train_timesteps: int, num_buckets: int = 10):
        if not 1 <= num_buckets <= num_train_timesteps:
            raise ValueError(f"expected 1 <= num_buckets <= {num_train_timesteps}, got {num_buckets}")
        self.num_train_timesteps = num_train_timesteps
        self.num_buckets = num_buckets
        steps = torch.arange(num_train_timesteps)
        self._bucket_of = steps * num_buckets // num_train_timesteps  # (T,) bucket of each training step
        counts = torch.bincount(self._bucket_of, minlength=num_buckets)
        self.centres = torch.bincount(self._bucket_of, weights=steps.double(), minlength=num_buckets) / counts
        self.reset()

    def reset(self) -> None:
        self.sums = torch.zeros(self.num_buckets, dtype=torch.float64)  # (K,) by bucket
        self.counts = torch.zeros(self.num_buckets, dtype=torch.long)  # (K,) by bucket

    def update(self, t: Tensor, per_sample_loss: Tensor) -> None:
        """Add a batch: t (B,) training steps, per_sample_loss (B,)."""
        b = self._bucket_of[t.detach().long().cpu()]  # (B,)
        self.sums += torch.bincount(
            b, weights=per_sample_loss.detach().double().cpu(), minlength=self.num_buckets
        )
        self.counts += torch.bincount(b, minlength=self.num_buckets)

    def compute(self) -> tuple[Tensor, Tensor, Tensor]:
        """(bucket centres in training steps (K,), mean loss per bucket (K,), NaN where empty, counts
        (K,))."""
        means = torch.where(self.counts > 0, self.sums / self.counts.clamp(min=1), torch.nan)
        return self.centres.clone(), means, self.counts.clone()
