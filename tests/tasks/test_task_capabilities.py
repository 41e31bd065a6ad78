"""The CLI asks a task for capabilities, never for a task by name: a third-party task gets one clear line."""

from __future__ import annotations

from click.testing import CliRunner

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.cli import main
from dvcore.run import execute
from dvcore.tasks.capabilities import EvaluatesRuns, LossPerTimestep, MakesMovieFrames, SamplesImages
from dvcore.tasks.generate import GenerateTask
from dvcore.tasks.interpolate import InterpolateTask
from tests.testplug import make_distribution

PLAIN_TASK = '''
import torch

from dvcore.api import EvalResult, NoOptions, TaskBase, hookimpl

DVCORE_PLUGIN_API = "1"


class Plain(TaskBase):
    """Reconstructs the first frame of a clip: trains and evaluates, and can do nothing else."""

    def __init__(self, options, *, recipe, registry):
        data = registry.get("dataset", recipe.data.name)
        splits = ("train", "eval")
        self._datasets = {s: data.build(recipe.data.options, split=s, seed=recipe.seed) for s in splits}

    def channels(self):
        return (3, 3)

    def datasets(self):
        return self._datasets

    def training_loss(self, model, batch):
        x = batch["frames"][:, 0]
        return (model(x, torch.zeros(len(x), device=x.device)) - x).pow(2).mean(), {}

    def evaluate(self, model, batches):
        return EvalResult({})


@hookimpl
def dvcore_register_components(registrar):
    registrar.add("task", "plain", Plain, NoOptions)
'''


def test_the_builtin_tasks_declare_their_capabilities_by_protocol():
    assert issubclass(GenerateTask, SamplesImages) and issubclass(GenerateTask, MakesMovieFrames)
    assert issubclass(GenerateTask, LossPerTimestep) and not issubclass(GenerateTask, EvaluatesRuns)
    assert issubclass(InterpolateTask, MakesMovieFrames) and issubclass(InterpolateTask, EvaluatesRuns)
    assert issubclass(InterpolateTask, LossPerTimestep) and not issubclass(InterpolateTask, SamplesImages)


def test_a_third_party_task_without_a_capability_is_refused_with_one_line_naming_it(
    testplug, tiny_recipe, tmp_path
):
    make_distribution(testplug, "dvcore-plain", "dvcore_plain", PLAIN_TASK)
    registry = plugins.load().registry
    recipe = recipes.load(
        tiny_recipe, ["task.name=plain", "eval.baselines=[]", "train.max_steps=2"], registry
    )
    execute(recipe, registry, run_dir=tmp_path / "run", progress=False)
    run = str(tmp_path / "run")
    where = "of dvcore-plain 0.0.1 cannot"
    for args, what in [
        (
            ["sample", run, "--out", str(tmp_path / "out"), "-n", "2"],
            "sample images (it has no sample(); see dvcore.tasks.capabilities.SamplesImages)",
        ),
        (
            ["movie", run],
            "make movie frames (it has no movie_frames(); see dvcore.tasks.capabilities.MakesMovieFrames)",
        ),
        (
            ["eval", "interp", run, "--metric", "mae"],
            "evaluate a run sample by sample (it has no evaluate_run(); "
            "see dvcore.tasks.capabilities.EvaluatesRuns)",
        ),
        (
            ["eval", "loss-per-t", run],
            "compute the loss per timestep (it has no loss_per_timestep(); see "
            "dvcore.tasks.capabilities.LossPerTimestep)",
        ),
    ]:
        result = CliRunner().invoke(main, args)
        command = " ".join(args[:2] if args[0] == "eval" else args[:1])
        assert result.exit_code == 2, result.output
        assert result.stderr.splitlines() == [
            f"dvcore {command}: task 'plain' {where} {what}",
            f"dvcore: 1 problem in {run}; nothing was run",
        ]
        assert "Traceback" not in result.output
