"""dvcore: diffusion models and video frame interpolation, as registries + plugins + recipes."""

from dvcore.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl"]
