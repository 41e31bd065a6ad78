"""Recipes: TOML -> overrides -> cattrs -> typed attrs objects, every problem at once.

A recipe is a TOML file. Fixed sections (``train``, ``eval``) are attrs classes
below; component sections (``task``, ``data``, ``model``, ``loss``, ``tracker``,
``eval.metrics``) hold ``name = "..."`` and that component's options, which are
structured into the component's own options class from the registry. So the
whole recipe is typed, and a bad one is reported as one line per problem:

    model.depth: expected int, got 'six'
    model.name: unknown backbone 'unte' (did you mean 'unet'?); valid choices: ...

cattrs would otherwise coerce '0.1' -> 0.1 and 2.7 -> 2; strict hooks forbid that.
"""

from __future__ import annotations

import copy
import os
import re
import stat
import sys
import tomllib
import typing
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import attrs
import cattrs
import tomli_w
from cattrs.cols import list_structure_factory
from cattrs.errors import (
    AttributeValidationNote,
    ForbiddenExtraKeysError,
    IterableValidationNote,
)

from dvcore.errors import RecipeError
from dvcore.options import ge, gt, le, lt, opt, path_component, standard_problem
from dvcore.registry import AmbiguousComponentError, Registry, UnknownComponentError, unknown_name_message

# ----------------------------------------------------------------------------------------------
# Schema
# ----------------------------------------------------------------------------------------------


@attrs.frozen
class Section:
    """A recipe section naming a component: ``name`` plus that component's options."""

    kind: ClassVar[str] = ""
    name: str
    options: Any = None  # an instance of the component's options class; None = defaults


@attrs.frozen
class TaskSection(Section):
    kind: ClassVar[str] = "task"


@attrs.frozen
class DatasetSection(Section):
    kind: ClassVar[str] = "dataset"


@attrs.frozen
class BackboneSection(Section):
    kind: ClassVar[str] = "backbone"


@attrs.frozen
class LossSection(Section):
    kind: ClassVar[str] = "loss"


@attrs.frozen
class ScheduleSection(Section):
    kind: ClassVar[str] = "schedule"


@attrs.frozen
class SamplerSection(Section):
    kind: ClassVar[str] = "sampler"


@attrs.frozen
class MetricSection(Section):
    kind: ClassVar[str] = "metric"


@attrs.frozen
class TrackerSection(Section):
    kind: ClassVar[str] = "tracker"


@attrs.frozen
class EMAConfig:
    """An exponential moving average of the weights, used for eval and sampling."""

    decay: float = opt(0.9999, "EMA decay per update", ge(0), le(1))
    warmup: bool = opt(True, "ramp the decay as min(decay, (1+n)/(10+n)) over the first updates")
    every: int = opt(1, "update the EMA every this many optimizer steps", gt(0))
    use_for_eval: bool = opt(True, "evaluate and sample with the EMA weights")


@attrs.frozen
class TrainConfig:
    """How to optimise. One optimizer step consumes batch_size x grad_accum x (number of processes)
    samples."""

    batch_size: int = opt(16, "samples per micro-batch, per process", gt(0))
    grad_accum: int = opt(1, "micro-batches accumulated into one optimizer step", gt(0))
    max_steps: int = opt(1000, "optimizer steps to train for (unless max_epochs is set)", gt(0))
    max_epochs: int | None = opt(
        None, "when set: train this many epochs of the train split (overrides max_steps)", gt(0)
    )
    optimizer: Literal["adamw", "adam", "sgd"] = opt("adamw", "optimizer")
    optimizer_impl: Literal["auto", "fused", "foreach", "loop"] = opt(
        "auto",
        "optimizer kernels: fused (one kernel per step), foreach (ops over all tensors at once), "
        "loop (per parameter); auto = fused for Adam(W) (CPU and CUDA), else foreach "
        "(benchmarks/results/vs_diffusers.md)",
    )
    tf32: bool = opt(True, "on CUDA: TF32 matmuls and convolutions for float32 (Ampere and newer)")
    lr: float = opt(3e-4, "peak learning rate", gt(0))
    weight_decay: float = opt(0.0, "weight decay (never on norms, biases and other 1-d parameters)", ge(0))
    betas: list[float] = opt(factory=lambda: [0.9, 0.999], doc="Adam(W) betas")
    momentum: float = opt(0.9, "SGD momentum", ge(0), lt(1))
    lr_schedule: Literal["constant", "cosine", "linear"] = opt("cosine", "decay after warmup")
    warmup_steps: int = opt(100, "linear warmup from 0 to lr", ge(0))
    min_lr_ratio: float = opt(0.0, "final lr as a fraction of lr (cosine/linear)", ge(0), le(1))
    clip_grad_norm: float | None = opt(1.0, "clip the global grad norm to this; unset = no clipping", gt(0))
    precision: Literal["fp32", "bf16", "fp16"] = opt(
        "fp32", "autocast dtype (fp16 adds a GradScaler; bf16 works on CPU)"
    )
    ema: EMAConfig | None = opt(None, "[train.ema] section: keep an EMA of the weights; unset = no EMA")
    compile: bool = opt(False, "torch.compile the backbone")
    channels_last: bool = opt(False, "channels_last memory format for the backbone and its inputs")
    grad_checkpointing: bool = opt(False, "activation checkpointing in backbones that support it")
    max_nonfinite: int = opt(10, "stop after this many consecutive steps with a non-finite loss/grad", gt(0))
    log_every: int = opt(10, "steps between logged scalars", gt(0))
    eval_every: int = opt(0, "steps between evaluations; 0 = only at the end", ge(0))
    checkpoint_every: int = opt(0, "steps between checkpoints; 0 = only at the end", ge(0))
    keep_last: int | None = opt(None, "keep only this many newest checkpoints; unset = all", gt(0))
    num_workers: int = opt(2, "threads that produce samples", ge(0))
    prefetch: int = opt(4, "batches prefetched ahead of the step", ge(0))

    def problems(self) -> Iterator[tuple[str, str]]:
        if len(self.betas) != 2:
            yield "betas", f"expected [beta1, beta2], got {self.betas!r}"


@attrs.frozen
class EvalConfig:
    """How to evaluate on the held-out split."""

    batch_size: int = opt(32, "samples per eval batch", gt(0))
    max_samples: int | None = opt(None, "evaluate on at most this many samples; unset = all", gt(0))
    metrics: list[MetricSection] = opt(factory=list, doc="metric components, e.g. ['psnr', 'ssim']")
    baselines: list[str] | None = opt(
        None,
        "baseline components scored beside the model, e.g. ['copy', 'blend', 'flow']; unset = the task's "
        "defaults (interpolate: copy, blend, flow); [] = none",
    )
    num_images: int = opt(8, "samples shown in logged image grids", ge(0))


@attrs.frozen
class InitConfig:
    """Start from another run's weights (fine-tuning): weights only; the optimizer, step and data order start
    fresh.

    Tensors are matched by name and shape; the model's tensors the source lacks keep their
    fresh initialisation. What matched, what did not and where the weights came from is
    reported and written into the run's hparams and summary.json.
    """

    source: str = opt(doc='the source run directory (TOML key "from")')
    checkpoint: int | str = opt("latest", '"latest" or the step of one of the source\'s checkpoints')
    ema: bool = opt(True, "the source's EMA weights when it kept an EMA (else its raw weights)")
    strict: bool = opt(False, "every tensor must match by name and shape (else: exit 2)")

    def problems(self) -> Iterator[tuple[str, str]]:
        if isinstance(self.checkpoint, str) and self.checkpoint != "latest":
            yield "checkpoint", f"expected 'latest' or a step number, got {self.checkpoint!r}"
        if isinstance(self.checkpoint, int) and self.checkpoint < 0:
            yield "checkpoint", f"expected a step >= 0, got {self.checkpoint}"


@attrs.frozen
class Recipe:
    """One run: which components, with which options, trained how."""

    experiment: str = opt(attrs.NOTHING, "experiment name; runs go under runs/<experiment>/", path_component)
    task: TaskSection = opt(doc="what is learned (interpolate, generate)")
    data: DatasetSection = opt(doc="dataset component")
    model: BackboneSection = opt(doc="backbone component")
    loss: LossSection = opt(LossSection("pixel"), "loss component")
    schedule: ScheduleSection | None = opt(
        None, "noise schedule (diffusion tasks; unset = the task's default)"
    )
    sampler: SamplerSection | None = opt(None, "sampler used for eval and sampling (diffusion tasks)")
    seed: int = opt(0, "seed for weights, data order and noise", ge(0), lt(2**32))
    device: Literal["auto", "cpu", "cuda"] = opt("auto", "auto = cuda when available")
    run_name: str | None = opt(None, "run directory name; unset = timestamp", path_component)
    runs_root: str = opt("runs", "where run directories are created")
    train: TrainConfig = opt(factory=TrainConfig, doc="optimisation")
    eval: EvalConfig = opt(factory=EvalConfig, doc="evaluation")
    tracker: TrackerSection = opt(TrackerSection("aim"), "experiment tracker (aim, none)")
    init: InitConfig | None = opt(None, "[init] section: start from another run's weights (fine-tuning)")
    description: str | None = opt(
        None, "what the run is for (unset = the recipe file's header comment)", multiline=True
    )
    tags: list[str] = opt(factory=list, doc="labels for the tracker; a sweep adds its name and varied keys")


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------


class Invalid(ValueError):
    """A value that does not fit; the message is final (no path, added by the caller)."""


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array of tables" if value and all(isinstance(v, dict) for v in value) else "an array"
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"... ({len(text)} characters)"


def _type_name(tp: Any) -> str:
    return {int: "int", float: "float", str: "string", bool: "bool", Path: "path"}.get(tp, str(tp))


# ----------------------------------------------------------------------------------------------
# Converter
# ----------------------------------------------------------------------------------------------


def _strict(tp: type, accept: tuple[type, ...]) -> Any:
    def structure(value: Any, _: Any) -> Any:
        # bool is an int in Python, never in a recipe.
        if (isinstance(value, bool) and bool not in accept) or not isinstance(value, accept):
            raise Invalid(f"expected {_type_name(tp)}, got {_describe(value)}")
        return tp(value)

    return structure


def _structure_int_or_str(value: Any, _: Any) -> int | str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid(f"expected int or string, got {_describe(value)}")
    return value


def _is_literal(tp: Any) -> bool:
    return typing.get_origin(tp) is Literal


def _structure_literal(value: Any, tp: Any) -> Any:
    choices = typing.get_args(tp)
    if value in choices and type(value) is type(choices[choices.index(value)]):
        return value
    msg = f"expected one of {', '.join(repr(c) for c in choices)}, got {_describe(value)}"
    close = [
        c for c in choices if isinstance(c, str) and isinstance(value, str) and c.lower() == value.lower()
    ]
    if close:
        msg += f" (did you mean {close[0]!r}?)"
    raise Invalid(msg)


def make_converter(registry: Registry) -> cattrs.Converter:
    """A strict converter that structures component sections through ``registry``."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(int, _strict(int, (int,)))
    conv.register_structure_hook(float, _strict(float, (int, float)))
    conv.register_structure_hook(str, _strict(str, (str,)))
    conv.register_structure_hook(bool, _strict(bool, (bool,)))
    conv.register_structure_hook(Path, _strict(Path, (str,)))
    conv.register_unstructure_hook(Path, str)
    conv.register_structure_hook_func(_is_literal, _structure_literal)
    conv.register_structure_hook(int | str, _structure_int_or_str)
    from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

    rename = {"source": override(rename="from")}
    conv.register_structure_hook(
        InitConfig,
        make_dict_structure_fn(
            InitConfig, conv, _cattrs_forbid_extra_keys=True, _cattrs_detailed_validation=True, **rename
        ),
    )
    conv.register_unstructure_hook(InitConfig, make_dict_unstructure_fn(InitConfig, conv, **rename))

    # An array where an array belongs, a table where a table belongs: cattrs alone would split
    # "blend" into characters and call .keys() on an array of tables.
    def array_hook(tp: Any) -> Any:
        inner = list_structure_factory(tp, conv)

        def structure(value: Any, tp_: Any) -> Any:
            if not isinstance(value, list):
                raise Invalid(f"expected an array, got {_describe(value)}")
            return inner(value, tp_)

        return structure

    def is_array(tp: Any) -> bool:
        return typing.get_origin(tp) is list

    conv.register_structure_hook_factory(is_array, array_hook)

    def table_hook(cl: Any) -> Any:
        inner = conv.gen_structure_attrs_fromdict(cl)

        def structure(value: Any, cl_: Any) -> Any:
            if not isinstance(value, dict):
                raise Invalid(f"expected a table, got {_describe(value)}")
            return inner(value, cl_)

        return structure

    conv.register_structure_hook_factory(
        lambda tp: attrs.has(tp) and not (isinstance(tp, type) and issubclass(tp, Section)), table_hook
    )

    def structure_section(value: Any, cls: type[Section]) -> Section:
        if isinstance(value, str):  # a bare name: the component with default options
            value = {"name": value}
        if not isinstance(value, dict):
            raise Invalid(f'expected a table with name = "..." (a {cls.kind}), got {_describe(value)}')
        choices = registry.names(cls.kind)
        if "name" not in value:
            raise Invalid(f'missing name = "..."; valid {cls.kind} choices: {", ".join(choices)}')
        name = value["name"]
        if not isinstance(name, str):
            raise _Located("name", Invalid(unknown_name_message(cls.kind, name, choices)))
        try:
            component = registry.get(cls.kind, name)
        except (UnknownComponentError, AmbiguousComponentError) as exc:
            raise _Located("name", Invalid(str(exc))) from None
        rest = {k: v for k, v in value.items() if k != "name"}
        return cls(name=name, options=conv.structure(rest, component.options))

    def is_section(tp: Any) -> bool:
        return isinstance(tp, type) and issubclass(tp, Section)

    conv.register_structure_hook_func(is_section, structure_section)

    def unstructure_section(section: Section) -> dict[str, Any]:
        options = section.options
        if options is None:
            options = registry.get(section.kind, section.name).options()
        return {"name": section.name, **conv.unstructure(options)}

    conv.register_unstructure_hook_func(is_section, unstructure_section)
    return conv


class _Located(Exception):
    """An error at a sub-path of the value being structured (e.g. a section's ``name``)."""

    def __init__(self, key: str, error: Exception):
        self.key, self.error = key, error
        super().__init__(str(error))


# ----------------------------------------------------------------------------------------------
# Turning cattrs' exception groups into one line per problem
# ----------------------------------------------------------------------------------------------


def _join(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(recipe)"


def _walk(exc: BaseException, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    if isinstance(exc, _Located):
        yield from _walk(exc.error, [*path, exc.key])
    elif isinstance(exc, BaseExceptionGroup):
        for sub in exc.exceptions:
            sub_path = path
            for note in getattr(sub, "__notes__", []):
                if isinstance(note, AttributeValidationNote):
                    sub_path = [*path, note.name]
                    break
                if isinstance(note, IterableValidationNote):
                    sub_path = [*path, note.index]
                    break
            yield from _walk(sub, sub_path)
    elif isinstance(exc, ForbiddenExtraKeysError):
        valid = [a.name for a in attrs.fields(exc.cl)] if attrs.has(exc.cl) else []
        for key in sorted(exc.extra_fields):
            yield [*path, key], "unknown key; " + _valid_keys(key, valid)
    elif isinstance(exc, KeyError) and not isinstance(exc, UnknownComponentError):
        yield path, "required, but missing"
    elif isinstance(exc, Invalid | UnknownComponentError):
        yield path, str(exc)
    else:
        yield path, f"{type(exc).__name__}: {exc}"


def _valid_keys(key: str, valid: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return hint + f"valid keys: {', '.join(valid) or '(none)'}"


def _check_values(
    obj: Any, path: list[str | int], owner: str = "recipe"
) -> Iterator[tuple[list[str | int], str]]:
    """Run the standard checks, every field validator and ``problems()``, collecting all failures.

    A check that crashes is a bug in the component, not in the recipe, but it must still end
    as one line of the report ("internal check failed in ..."), never as a traceback. Cross-field
    ``problems()`` always run, so a report names every problem at once; when a field already
    failed its own check, a crash inside ``problems()`` (dividing by a field just reported as 0,
    say) is that field's consequence and is left out of the report.
    """
    if isinstance(obj, Section):
        if obj.options is not None:
            yield from _check_values(obj.options, path, f"{obj.kind} {obj.name!r}")
        return
    if isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _check_values(item, [*path, i], owner)
        return
    if not attrs.has(type(obj)):
        return
    fields_ok = True
    for field in attrs.fields(type(obj)):
        value = getattr(obj, field.name)
        problem = standard_problem(field, value)
        if problem is None and field.validator is not None:
            try:
                field.validator(obj, field, value)
            except (ValueError, TypeError) as exc:
                problem = str(exc)
            except Exception as exc:  # any crash becomes one report line
                problem = _internal(owner, exc)
        if problem is not None:
            fields_ok = False
            yield [*path, field.name], problem
            continue
        yield from _check_values(value, [*path, field.name], owner)
    problems = getattr(obj, "problems", None)
    if callable(problems):
        try:
            found = [(subpath, message) for subpath, message in problems()]
        except Exception as exc:
            found = [("", _internal(owner, exc))] if fields_ok else []
        for subpath, message in found:
            yield [*path, *_split(str(subpath))], str(message)


def _internal(owner: str, exc: BaseException) -> str:
    return f"internal check failed in {owner}: {type(exc).__name__}: {exc}"


def _split(dotted: str) -> list[str | int]:
    parts: list[str | int] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", dotted):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    return parts


def structure(data: dict[str, Any], registry: Registry, cls: type = Recipe) -> Any:
    """Structure a recipe dict, raising ``RecipeError`` with every problem found."""
    conv = make_converter(registry)
    if isinstance(data, dict) and attrs.has(cls):
        # Default sections go through the same structuring and checks as written ones.
        data = dict(data)
        for field in attrs.fields(cls):
            if isinstance(field.default, Section) and field.name not in data:
                data[field.name] = {"name": field.default.name}
    try:
        with attrs.validators.disabled():
            obj = conv.structure(data, cls)
    except Exception as exc:
        found = list(_walk(exc, []))
        # Value checks need a structured object: retry without the values that failed to
        # structure, so out-of-range values elsewhere are reported in the same pass.
        pruned = copy.deepcopy(data)
        for path, _ in found:
            _prune(pruned, path)
        try:
            with attrs.validators.disabled():
                partial = conv.structure(pruned, cls)
            failed = [q for q, _ in found]
            # a check on a value that failed to structure (or on what contains it) would only repeat it
            found += [
                (p, m) for p, m in _check_values(partial, []) if not any(_overlaps(p, q) for q in failed)
            ]
        except Exception:
            pass  # e.g. a required section is missing: the structural problems are all we can say
        raise RecipeError(
            [f"{_join(p)}: {m}" for p, m in sorted(found, key=lambda pm: _sort_key(pm[0]))]
        ) from None
    problems = sorted(_check_values(obj, []), key=lambda pm: _sort_key(pm[0]))
    if problems:
        raise RecipeError([f"{_join(p)}: {m}" for p, m in problems])
    return obj


def _overlaps(a: list[str | int], b: list[str | int]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def _sort_key(path: list[str | int]) -> list[tuple[int, str]]:
    return [(0, str(p)) if isinstance(p, str) else (1, f"{p:08d}") for p in path]


def _prune(data: Any, path: list[str | int]) -> None:
    """Delete the value at ``path`` (a whole list when the path goes through one)."""
    node = data
    for i, key in enumerate(path):
        last = i == len(path) - 1
        nxt = path[i + 1] if not last else None
        if not isinstance(node, dict) or key not in node:
            return
        if last or isinstance(nxt, int) or (nxt == "name" and i + 1 == len(path) - 1):
            del node[key]  # a list, a section whose name is unknown, or the value itself
            return
        node = node[key]


# ----------------------------------------------------------------------------------------------
# Files and overrides
# ----------------------------------------------------------------------------------------------


MAX_RECIPE_BYTES = 1 << 20  # a recipe is a page of text; anything larger is not one


def parse_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file (UTF-8, at most 1 MiB); syntax errors become ``file:line:col: message``."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or a device would block or never end
            raise RecipeError([f"{path}: cannot read recipe: not a regular file"])
        with open(path, "rb") as f:
            raw = f.read(MAX_RECIPE_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise RecipeError([f"{path}: cannot read recipe: {getattr(exc, 'strerror', None) or exc}"]) from None
    if len(raw) > MAX_RECIPE_BYTES:
        raise RecipeError([f"{path}: recipe larger than {MAX_RECIPE_BYTES} bytes; is this a recipe?"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise RecipeError(
            [f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})"]
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        where = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        if where:
            msg = msg[: where.start()].strip()
            raise RecipeError([f"{path}:{where[1]}:{where[2]}: TOML syntax error: {msg}"]) from None
        raise RecipeError([f"{path}: TOML syntax error: {msg}"]) from None


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b=c`` -> (['a', 'b'], c parsed as a TOML value; a bare word stays a string)."""
    if "=" not in text:
        raise RecipeError([f"--set {text}: expected key.path=value"])
    key, raw = text.split("=", 1)
    keys = [k.strip() for k in key.strip().split(".")]
    if not all(keys):
        raise RecipeError([f"--set {text}: empty key in {key!r}"])
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return keys, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    problems = []
    for text in overrides:
        keys, value = parse_override(text)
        table = data
        for i, key in enumerate(keys[:-1]):
            node = table.setdefault(key, {})
            if isinstance(node, str):  # a bare component name, e.g. `model = "unet"`
                node = table[key] = {"name": node}
            if not isinstance(node, dict):
                problems.append(f"--set {text}: {'.'.join(keys[: i + 1])} is not a table")
                break
            table = node
        else:
            table[keys[-1]] = value
    if problems:
        raise RecipeError(problems)
    return data


SWEEP = "sweep"


def read(path: str | Path) -> dict[str, Any]:
    """A recipe file as a dict: its ``extends`` chain merged in, its header comment as the description."""
    from dvcore import recipe_extends

    data = recipe_extends.resolve(path)
    if "description" not in data:
        header = recipe_extends.header_comment(path)
        if header:
            data["description"] = header
    return data


def load(
    path: str | Path,
    overrides: Iterable[str] = (),
    registry: Registry | None = None,
    notify: Callable[[str], None] | None = None,
    *,
    replace: dict[str, Any] | None = None,
) -> Recipe:
    """Read, override and validate a recipe file (its ``extends`` chain merged in).

    ``replace``: top-level sections that replace the file's whole (e.g. another ``data``),
    applied before ``overrides``. An override of a section's ``name`` switches the component
    (see ``switch_components``); the one notice line per switch goes to ``notify`` (default: stderr).
    """
    if registry is None:
        from dvcore.plugins import registry as default_registry

        registry = default_registry()
    overrides = list(overrides)
    original = read(path)
    if SWEEP in original:
        raise RecipeError(
            [f"{path}: [{SWEEP}] describes a sweep of runs; start it with: dvcore sweep {path}"]
        )
    original = {**original, **(replace or {})}
    data = apply_overrides(copy.deepcopy(original), overrides)
    for line in switch_components(original, data, overrides, registry):
        (notify or _to_stderr)(line)
    return structure(data, registry)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def switch_components(
    original: dict[str, Any], data: dict[str, Any], overrides: list[str], registry: Registry
) -> list[str]:
    """Drop, from each section whose ``name`` an override changed, the file's options the new component lacks.

    ``--set model.name=unet`` on a recipe written for another backbone would otherwise leave
    that backbone's options behind as "unknown key" errors. Options given with ``--set`` are
    kept (and validated like any). Edits ``data`` in place; returns one notice line per
    section that lost options.
    """
    set_paths = {tuple(parse_override(text)[0]) for text in overrides}
    notices = []
    for key in _section_fields(Recipe):
        section, before = data.get(key), original.get(key)
        if (key, "name") not in set_paths or not isinstance(section, dict) or not isinstance(before, dict):
            continue
        new_name = section.get("name")
        if not isinstance(new_name, str) or new_name == before.get("name"):
            continue
        try:
            known = {f.name for f in attrs.fields(registry.get(_section_kind(key), new_name).options)}
        except KeyError:  # an unknown or ambiguous name is reported by ``structure``
            continue
        dropped = sorted(k for k in section if k != "name" and k not in known and (key, k) not in set_paths)
        for k in dropped:
            del section[k]
        if dropped:
            notices.append(
                f"dvcore: note: --set {key}.name={new_name}: dropped the file's {key} options that "
                f"{new_name} does not take: {', '.join(dropped)}"
            )
    return notices


def _section_fields(cls: type) -> dict[str, type[Section]]:
    """The fields of ``cls`` that hold one component section (optional or not), by name."""
    hints = typing.get_type_hints(cls)
    out = {}
    for field in attrs.fields(cls):
        for tp in (hints[field.name], *typing.get_args(hints[field.name])):
            if isinstance(tp, type) and issubclass(tp, Section):
                out[field.name] = tp
    return out


def _section_kind(key: str) -> str:
    return _section_fields(Recipe)[key].kind


def to_dict(recipe: Recipe, registry: Registry) -> dict[str, Any]:
    """The fully resolved recipe (every default filled in), TOML-ready (no None values)."""
    return _drop_none(make_converter(registry).unstructure(recipe))


def to_toml(recipe: Recipe, registry: Registry) -> str:
    return tomli_w.dumps(to_dict(recipe, registry))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
