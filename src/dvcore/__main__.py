"""`python -m dvcore ...` is the `dvcore` command (what sweeps launch, and what torchrun wraps)."""

from dvcore.cli import main

main()
