"""The `dvcore` command.

    dvcore run RECIPE [--set K=V ...] | --resume RUN_DIR    train (dvcore.commands.run)
    dvcore validate RECIPE [--set K=V ...]                  check, build on the meta device, train nothing
    dvcore plugins [--json]                                 every component with its options
    dvcore plugins show KIND NAME                           one component: options, constraints, capabilities
    dvcore plugin new NAME --kind KIND                      an installable plugin package (docs/plugins.md)
    dvcore sample RUN_DIR --out DIR                         generated images, one PNG per index
    dvcore movie RUN_DIR                                    the denoising trajectory as GIF/MP4
    dvcore eval gen SAMPLES --ref REF                       FID / KID / IS of generated images
    dvcore eval stats IMAGES --out FILE.npz                 reference statistics, computed once
    dvcore eval interp RUN_DIR                              per-clip PSNR / SSIM beside the baselines
    dvcore eval loss-per-t RUN_DIR                          held-out loss in buckets of t
    dvcore sweep RECIPE --grid K=V1,V2 --seeds 0,1          a grid of runs (here, or SLURM via submitit)
    dvcore compare RUN_OR_SWEEP_DIR...                      what differs vs the final metrics, over seeds
    dvcore export RUN_DIR OUT --format NAME                 the run in another library's format (diffusers)

Each command lives in a module of ``dvcore.commands``; options several commands share are declared
once in ``dvcore.commands.common``. Errors become exit codes here, in one place:

- bad input (``RecipeError``: a recipe that does not validate, a TOML syntax error, a bad --set or
  argument): one line per problem on stderr, a summary line, exit code 2, no traceback;
- a run stopped by a signal (``TrainingStopped``): how to resume it, exit code 0;
- a run that diverged (``TrainingDiverged``): one line, exit code 1;
- with ``DVCORE_STRICT_PLUGINS=1``, a plugin that failed to load (``PluginLoadError``): one line
  per failed plugin, exit code 2;
- a run that failed at run time (``RunFailed``): one line, exit code 1, the traceback in RUN_DIR/error.log;
- an interrupt (a second stop signal, Ctrl-C twice): one line, exit code 1;
- anything else: one line, exit code 1, the traceback saved to a temporary file that the line names.
"""

from __future__ import annotations

import signal
import sys
import tempfile
import traceback
from typing import Any

import click

from dvcore.commands.compare import compare
from dvcore.commands.evaluate import eval_group
from dvcore.commands.export import export
from dvcore.commands.movie import movie
from dvcore.commands.plugin_new import plugin_group
from dvcore.commands.plugins import plugins_cmd
from dvcore.commands.plugins_show import show as plugins_show
from dvcore.commands.run import run, validate
from dvcore.commands.sample import sample
from dvcore.commands.sweep import sweep
from dvcore.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILURE,
    EXIT_OK,
    RecipeError,
    RunFailed,
    TrainingDiverged,
    TrainingStopped,
)
from dvcore.plugins import STRICT_ENV, PluginLoadError


class Dvcore(click.Group):
    """The command group; turns dvcore's errors into messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RecipeError as exc:
            for line in exc.problems:
                click.echo(line, err=True)
            noun = "problem" if len(exc.problems) == 1 else "problems"
            source = exc.source or "the input"
            click.echo(f"dvcore: {len(exc.problems)} {noun} in {source}; nothing was run", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except TrainingStopped as stop:
            stopped_dir = stop.checkpoint_path.parent.parent
            click.echo(
                f"dvcore: stopped by signal {stop.signum} after step {stop.step}; checkpoint written.",
                err=True,
            )
            click.echo(f"dvcore: resume with: dvcore run --resume {stopped_dir}", err=True)
            sys.exit(EXIT_OK)
        except TrainingDiverged as exc:
            click.echo(f"dvcore: training diverged: {exc}", err=True)
            sys.exit(EXIT_FAILURE)
        except PluginLoadError as exc:
            for failure in exc.failures:
                click.echo(f"dvcore: error: {failure} ({STRICT_ENV}=1)", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except RunFailed as exc:
            where = f" (details in {exc.log})" if exc.log else ""
            click.echo(f"dvcore: run failed at step {exc.step}: {exc.line}{where}", err=True)
            sys.exit(EXIT_FAILURE)
        except KeyboardInterrupt:
            click.echo(
                "dvcore: interrupted; a run continues from its last checkpoint with --resume", err=True
            )
            sys.exit(EXIT_FAILURE)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            click.echo(f"dvcore: {_unexpected(exc)}", err=True)
            sys.exit(EXIT_FAILURE)


def _unexpected(exc: BaseException) -> str:
    """One line for an error no command expected; the traceback goes to a file for a bug report."""
    if isinstance(exc, MemoryError):
        what = "out of memory"
    elif isinstance(exc, OSError) and exc.strerror:
        what = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    else:
        text = str(exc).strip().splitlines()
        what = f"internal error: {type(exc).__name__}" + (f": {text[0]}" if text else "")
    try:
        with tempfile.NamedTemporaryFile(
            "w", prefix="dvcore-error-", suffix=".log", delete=False, encoding="utf-8"
        ) as log:
            log.write(traceback.format_exc())
        return f"{what} (traceback in {log.name})"
    except OSError:
        return what


@click.group(cls=Dvcore, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dvcore")
def main() -> None:
    """dvcore: diffusion models and video frame interpolation from TOML recipes."""
    if hasattr(signal, "SIGXFSZ"):
        # past a file size limit, a write fails with EFBIG (reported as one line) instead of killing us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


main.add_command(run)
main.add_command(validate)
main.add_command(plugins_cmd)
plugins_cmd.add_command(plugins_show)
main.add_command(plugin_group)
main.add_command(sample)
main.add_command(movie)
main.add_command(eval_group)
main.add_command(sweep)
main.add_command(compare)
main.add_command(export)


if __name__ == "__main__":
    main()
