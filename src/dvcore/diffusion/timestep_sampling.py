"""How training draws the timestep of each sample: uniformly, or by importance.

Both return (t, weights): t (B,) long training steps and weights (B,) float, by which each
sample's loss is multiplied so that the expected loss equals the uniform-t loss.

Importance sampling is the loss-aware sampler of improved DDPM (Nichol & Dhariwal 2021,
sec. 3.3): keep the last ``history`` losses of every training step, and once every
step has a full history draw t with p_t proportional to sqrt(E[L_t^2]) (mixed with a little
uniform mass so no step starves), weighting the loss by 1/(T p_t). Before that it is uniform.
The state is part of a checkpoint (``state_dict``); under data parallelism the trainer should
feed ``update`` the gathered (t, losses) of all ranks so they keep the same history.
"""

from __future__ import annotations

from typing import Any

import torch

Tensor = torch.Tensor


class UniformTimesteps:
    """t ~ U{0, ..., T-1}, weights 1."""

    def __init__(self, num_train_timesteps: int):
        self.num_train_timesteps = num_train_timesteps

    def probabilities(self) -> Tensor:
        """p_t, (T,) float64 by training step."""
        return torch.full((self.num_train_timesteps,), 1.0 / self.num_train_timesteps, dtype=torch.float64)

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
    ) -> tuple[Tensor, Tensor]:
        """(t (B,) long, weights (B,) float32) on `device`; t is drawn on the generator's device."""
        gen_device = generator.device if generator is not None else device
        t = torch.randint(0, self.num_train_timesteps, (batch_size,), generator=generator, device=gen_device)
        return t.to(device), torch.ones(batch_size, device=device)

    def update(self, t: Tensor, losses: Tensor) -> None:
        """Nothing to learn."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class ImportanceTimesteps(UniformTimesteps):
    """Loss-aware t: p_t proportional to sqrt(E[L_t^2]) over a short history (iDDPM sec. 3.3)."""

    def __init__(self, num_train_timesteps: int, history: int = 10, uniform_mix: float = 0.001):
        super().__init__(num_train_timesteps)
        self.history = history
        self.uniform_mix = uniform_mix
        self.losses = torch.zeros(
            num_train_timesteps, history, dtype=torch.float64
        )  # (T, H) by training step
        self.counts = torch.zeros(num_train_timesteps, dtype=torch.long)  # (T,) losses seen per training step

    def warmed_up(self) -> bool:
        """True once every training step has a full history."""
        return bool((self.counts >= self.history).all())

    def probabilities(self) -> Tensor:
        if not self.warmed_up():
            return super().probabilities()
        p = self.losses.pow(2).mean(dim=1).sqrt()  # (T,) sqrt(E[L_t^2])
        p = p / p.sum()
        return p * (1 - self.uniform_mix) + self.uniform_mix / self.num_train_timesteps

    def sample(
        self, batch_size: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
    ) -> tuple[Tensor, Tensor]:
        if not self.warmed_up():
            return super().sample(batch_size, generator, device)
        p = self.probabilities()  # (T,) float64
        gen_device = generator.device if generator is not None else "cpu"
        t = torch.multinomial(p.to(gen_device), batch_size, replacement=True, generator=generator)  # (B,)
        weights = 1.0 / (self.num_train_timesteps * p[t.cpu()])  # (B,) importance weights, E_p[w] = 1
        return t.to(device), weights.to(device=device, dtype=torch.float32)

    def update(self, t: Tensor, losses: Tensor) -> None:
        """Push each (t, loss) pair into that training step's history (oldest out first)."""
        for step, loss in zip(
            t.detach().cpu().tolist(), losses.detach().double().cpu().tolist(), strict=True
        ):
            if self.counts[step] >= self.history:
                self.losses[step] = torch.roll(self.losses[step], -1)
                self.losses[step, -1] = loss
            else:
                self.losses[step, self.counts[step]] = loss
            self.counts[step] += 1

    def state_dict(self) -> dict[str, Any]:
        return {"losses": self.losses.clone(), "counts": self.counts.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.losses.copy_(state["losses"])
        self.counts.copy_(state["counts"])
