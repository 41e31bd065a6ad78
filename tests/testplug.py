"""A throw-away third-party plugin distribution for tests: source, and a dist-info writer."""

from __future__ import annotations

import textwrap
from pathlib import Path

TESTPLUG = textwrap.dedent(
    '''
    """A third-party dvcore plugin that exists only inside the test suite."""
    import attrs
    import torch
    from torch import nn

    from dvcore import hookimpl
    from dvcore.metrics import MeanMetric
    from dvcore.options import gt, opt


    @attrs.frozen
    class TinyOptions:
        width: int = opt(8, "hidden channels", gt(0))
        depth: int = opt(2, "hidden conv layers", gt(0))


    class TinyConv(nn.Module):
        def __init__(self, options, in_channels, out_channels):
            super().__init__()
            layers, c = [], in_channels + 1
            for _ in range(options.depth):
                layers += [nn.Conv2d(c, options.width, 3, padding=1), nn.SiLU()]
                c = options.width
            layers.append(nn.Conv2d(c, out_channels, 3, padding=1))
            self.net = nn.Sequential(*layers)

        def forward(self, x, t):
            t_map = (t.float() / 1000.0)[:, None, None, None].expand(-1, 1, *x.shape[-2:])
            return self.net(torch.cat([x, t_map.to(x.dtype)], dim=1))


    def build_tiny(options, *, in_channels, out_channels):
        """A few 3x3 convolutions (test backbone)."""
        return TinyConv(options, in_channels, out_channels)


    class MAE(MeanMetric):
        name = "mae"
        higher_is_better = False

        def per_sample(self, pred, target):
            return (pred - target).abs().flatten(1).mean(1).double()


    @hookimpl
    def dvcore_register_components(registrar):
        registrar.add("backbone", "tiny_conv", build_tiny, TinyOptions)
        registrar.add("metric", "mae", lambda options: MAE())
    '''
)


def make_distribution(site: Path, dist: str, module: str, source: str, entry_name: str | None = None) -> Path:
    """Write ``module.py`` and a ``dist-info`` whose entry point registers it in the dvcore group."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[dvcore]\n{entry_name or module} = {module}\n")
    return site
