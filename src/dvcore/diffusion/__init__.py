"""Diffusion components: schedules, samplers, losses."""
