"""Plugin discovery through the `dvcore` entry-point group: failures, clashes, API versions."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from dvcore import plugins
from dvcore import recipe as recipes
from dvcore.registry import AmbiguousComponentError
from tests.testplug import make_distribution

BROKEN = "import this_module_does_not_exist\n"
BROKEN_LINE = (
    "plugin dvcore-broken 0.0.1 (dvcore_broken) failed to load: "
    "ModuleNotFoundError: No module named 'this_module_does_not_exist'"
)

CLASH = """
from dvcore.api import NoOptions, hookimpl

@hookimpl
def dvcore_register_components(registrar):
    registrar.add("loss", "my_extra_loss", lambda o: None, NoOptions)
    registrar.add("tracker", "none", lambda o, run: None, NoOptions)  # also the core's
"""

TWICE = """
from dvcore.api import NoOptions, hookimpl

@hookimpl
def dvcore_register_components(registrar):
    registrar.add("loss", "mine", lambda o: None, NoOptions)
    registrar.add("loss", "mine", lambda o: None, NoOptions)
"""

FUTURE = """
from dvcore.api import NoOptions, hookimpl

DVCORE_PLUGIN_API = "2"

@hookimpl
def dvcore_register_components(registrar):
    registrar.add("loss", "from_the_future", lambda o: None, NoOptions)
"""

CORE = metadata.version("dvcore")


def test_builtins_register_through_the_entry_point(fresh_plugins):
    loaded = plugins.load()
    component = loaded.registry.get("task", "interpolate")
    assert component.origin == "dvcore"
    assert "dvcore" in loaded.distributions
    assert "dvcore:builtins" in [name for name, _ in loaded.manager.list_name_plugin()]


def test_third_party_distribution_is_discovered_with_its_origin(testplug):
    loaded = plugins.load()
    component = loaded.registry.get("backbone", "tiny_conv")
    assert (component.origin, component.version) == ("dvcore-testplug", "0.0.1")
    assert loaded.registry.get("metric", "mae").origin == "dvcore-testplug"
    assert loaded.failures == []


def test_broken_plugin_is_named_once_per_process_and_the_rest_load(testplug, capsys):
    make_distribution(testplug, "dvcore-broken", "dvcore_broken", BROKEN)
    loaded = plugins.load(strict=False)
    assert [str(f) for f in loaded.failures] == [BROKEN_LINE]
    assert ("backbone", "tiny_conv") in loaded.registry  # the others still load
    assert capsys.readouterr().err == ""  # load() reports nothing itself
    plugins.plugins()
    plugins.plugins()
    plugins.registry()
    assert capsys.readouterr().err == f"dvcore: warning: {BROKEN_LINE}\n"


def test_strict_mode_turns_a_broken_plugin_into_an_error_that_names_it(testplug, monkeypatch):
    make_distribution(testplug, "dvcore-broken", "dvcore_broken", BROKEN)
    monkeypatch.setenv("DVCORE_STRICT_PLUGINS", "1")
    with pytest.raises(plugins.PluginLoadError) as info:
        plugins.load()
    assert [str(f) for f in info.value.failures] == [BROKEN_LINE]


def test_a_clash_keeps_both_components_under_qualified_names_and_withdraws_only_the_bare_name(testplug):
    make_distribution(testplug, "dvcore-dup", "dvcore_dup", CLASH)
    loaded = plugins.load(strict=False)
    assert loaded.failures == []
    assert ("loss", "my_extra_loss") in loaded.registry  # the distribution's other components stay
    assert loaded.registry.get("tracker", "dvcore:none").origin == "dvcore"
    assert loaded.registry.get("tracker", "dvcore-dup:none").origin == "dvcore-dup"
    with pytest.raises(AmbiguousComponentError) as info:
        loaded.registry.get("tracker", "none")
    assert str(info.value) == (
        f"tracker 'none' is registered by both dvcore {CORE} and dvcore-dup 0.0.1; "
        "write 'dvcore:none' or 'dvcore-dup:none'"
    )
    assert loaded.warnings() == [
        f"dvcore: warning: tracker 'none' is registered by both dvcore {CORE} and dvcore-dup 0.0.1; "
        "a recipe must write 'dvcore:none' or 'dvcore-dup:none'"
    ]
    assert {"dvcore:none", "dvcore-dup:none"} <= set(loaded.registry.names("tracker"))
    assert "none" not in loaded.registry.names("tracker")


def test_which_distribution_loads_first_never_decides_a_clash(testplug):
    make_distribution(testplug, "aaa-first", "aaa_first", CLASH)  # sorts before dvcore-dup
    make_distribution(testplug, "zzz-last", "zzz_last", CLASH.replace("my_extra_loss", "other_loss"))
    registry = plugins.load(strict=False).registry
    (owners,) = registry.clashes()
    assert [c.origin for c in owners] == ["aaa-first", "dvcore", "zzz-last"]
    assert all(("tracker", c.qualified_name) in registry for c in owners)
    assert ("tracker", "none") not in registry


def test_a_recipe_names_the_clash_and_resolves_a_qualified_name(testplug, tiny_recipe):
    make_distribution(testplug, "dvcore-dup", "dvcore_dup", CLASH)
    registry = plugins.load(strict=False).registry
    with pytest.raises(recipes.RecipeError) as info:
        recipes.load(tiny_recipe, [], registry)
    assert info.value.problems == [
        f"tracker.name: tracker 'none' is registered by both dvcore {CORE} and dvcore-dup 0.0.1; "
        "write 'dvcore:none' or 'dvcore-dup:none'"
    ]
    chosen = recipes.load(tiny_recipe, ["tracker.name=dvcore:none"], registry)
    assert chosen.tracker.name == "dvcore:none"
    assert recipes.to_dict(chosen, registry)["tracker"] == {"name": "dvcore:none"}


def test_registering_a_name_twice_in_one_distribution_fails_that_plugin(testplug):
    make_distribution(testplug, "dvcore-twice", "dvcore_twice", TWICE)
    loaded = plugins.load(strict=False)
    assert [str(f) for f in loaded.failures] == [
        "plugin dvcore-twice 0.0.1 (dvcore_twice) failed to load: "
        "DuplicateComponentError: loss 'mine' is registered twice by dvcore-twice 0.0.1"
    ]
    assert ("loss", "mine") not in loaded.registry


def test_a_plugin_for_another_plugin_api_is_reported_like_a_broken_one(testplug):
    make_distribution(testplug, "dvcore-future", "dvcore_future", FUTURE)
    loaded = plugins.load(strict=False)
    assert [str(f) for f in loaded.failures] == [
        "plugin dvcore-future 0.0.1 (dvcore_future) failed to load: incompatible: it targets dvcore "
        f"plugin API 2, but the installed dvcore {CORE} serves plugin API 1"
    ]
    assert ("loss", "from_the_future") not in loaded.registry


def test_shipped_plugins_declare_the_plugin_api_they_target():
    from dvcore.api import PLUGIN_API_VERSION

    shipped = [ep for ep in metadata.entry_points(group="dvcore") if ep.dist and ep.dist.name != "dvcore"]
    for ep in shipped:
        assert getattr(ep.load(), "DVCORE_PLUGIN_API", None) == PLUGIN_API_VERSION, ep.dist.name


def test_a_duplicate_unet_leaves_the_shipped_one_reachable_and_its_recipe_valid(testplug):
    pytest.importorskip("dvcore_unet")
    from dvcore.run import validate

    other = CLASH.replace('"tracker", "none", lambda o, run: None', '"backbone", "unet", lambda o, **k: None')
    make_distribution(testplug, "dvcore-other", "dvcore_other", other)
    loaded = plugins.load(strict=False)
    assert loaded.failures == []
    assert loaded.registry.get("backbone", "dvcore-unet:unet").origin == "dvcore-unet"
    assert loaded.registry.get("loss", "my_extra_loss").origin == "dvcore-other"
    recipe = recipes.load(Path(__file__).parents[1] / "recipes" / "interp_n5_unet.toml", [], loaded.registry)
    assert recipe.model.name == "dvcore-unet:unet"
    assert validate(recipe, loaded.registry)["parameters"] > 0
