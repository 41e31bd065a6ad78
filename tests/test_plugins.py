"""Plugin discovery through the `dvcore` entry-point group."""

from __future__ import annotations

import pytest

from dvcore import plugins
from tests.testplug import make_distribution

BROKEN = "import this_module_does_not_exist\n"

DUPLICATE = """
from dvcore import hookimpl
from dvcore.registry import NoOptions

@hookimpl
def dvcore_register_components(registrar):
    registrar.add("loss", "my_extra_loss", lambda o: None, NoOptions)
    registrar.add("tracker", "none", lambda o, run: None, NoOptions)  # already the core's
"""


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


def test_broken_plugin_is_reported_once_and_the_rest_load(testplug, capsys):
    make_distribution(testplug, "dvcore-broken", "dvcore_broken", BROKEN)
    loaded = plugins.load(strict=False)
    assert [f.distribution for f in loaded.failures] == ["dvcore-broken"]
    assert "ModuleNotFoundError" in loaded.failures[0].error
    assert ("backbone", "tiny_conv") in loaded.registry  # the others still load
    err = capsys.readouterr().err
    assert err.count("dvcore-broken") == 1


def test_strict_mode_turns_a_broken_plugin_into_an_error(testplug, monkeypatch):
    make_distribution(testplug, "dvcore-broken", "dvcore_broken", BROKEN)
    monkeypatch.setenv("DVCORE_STRICT_PLUGINS", "1")
    with pytest.raises(plugins.PluginLoadError, match="dvcore-broken"):
        plugins.load()


def test_duplicate_name_names_both_distributions_and_withdraws_the_plugin(testplug):
    make_distribution(testplug, "dvcore-dup", "dvcore_dup", DUPLICATE)
    loaded = plugins.load(strict=False)
    (failure,) = loaded.failures
    assert failure.distribution == "dvcore-dup"
    assert "tracker 'none' is registered by both dvcore" in failure.error
    assert "dvcore-dup 0.0.1" in failure.error
    assert ("loss", "my_extra_loss") not in loaded.registry  # nothing half-registered
    assert loaded.registry.get("tracker", "none").origin == "dvcore"
