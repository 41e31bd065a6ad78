"""Diffusion components: schedules, samplers, losses.

- ``schedules``: ``Schedule`` (float64 tables by training step) and the four beta schedules.
- ``prediction``: eps / x0 / v and the algebra between them.
- ``spacing``: which training steps a sampler visits (linspace / leading / trailing, Karras).
- ``samplers``: DDPM, DDIM, DPM-Solver++, Euler, Heun; the contract is in ``samplers.base``.
- ``losses``, ``timestep_sampling``, ``loss_per_timestep``: training loss and its analysis.
- ``components.register(registrar)``: adds them all to a registry.
- ``task_parts``: what the diffusion tasks share (components, training noise, held-out loss).

Registry factories: ``schedule`` and ``sampler`` and ``loss`` are ``factory(options)``.
"""
