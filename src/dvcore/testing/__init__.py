"""The conformance kit: the contract of each component kind, as checks a plugin's tests call.

    from dvcore.testing import check_backbone

    def test_my_net_meets_the_backbone_contract():
        check_backbone(build_my_net, MyNetOptions(width=8))

Like scikit-learn's ``check_estimator``: one ``check_<kind>`` per component kind, in the
module named for the kind (``dvcore.testing.backbones``, ``.datasets``, ``.metrics``,
``.losses``, ``.schedules``, ``.samplers``, ``.trackers``, ``.tasks``, ``.baselines``).
Each check builds the component from its factory and options the way dvcore does, runs
every sub-check of the kind's contract (``dvcore.protocols``), and raises one
``ConformanceError`` (an ``AssertionError``) listing every sub-check that failed, one line
each, or returns None.

``options`` may be an options instance, the options class (its defaults are used), or
None (no options). Every check also runs ``check_options`` on the options class: attrs
class, frozen, a doc per field, validators that raise ``ValueError`` without the field
name, ``problems()`` that never raises. Checks fork torch's RNG, so they leave the global
random state of the test as they found it. See docs/plugins.md for how to use them.
"""

from dvcore.testing.backbones import check_backbone
from dvcore.testing.baselines import check_baseline
from dvcore.testing.components import check_component, kit_registry
from dvcore.testing.datasets import check_dataset
from dvcore.testing.losses import check_loss
from dvcore.testing.metrics import check_metric
from dvcore.testing.options import check_options
from dvcore.testing.report import ConformanceError
from dvcore.testing.samplers import check_sampler, point_mass_denoiser
from dvcore.testing.schedules import check_schedule
from dvcore.testing.tasks import check_task
from dvcore.testing.tiny_backbone import TinyBackbone
from dvcore.testing.trackers import check_tracker

__all__ = [
    "ConformanceError",
    "TinyBackbone",
    "check_backbone",
    "check_baseline",
    "check_component",
    "check_dataset",
    "check_loss",
    "check_metric",
    "check_options",
    "check_sampler",
    "check_schedule",
    "check_task",
    "check_tracker",
    "kit_registry",
    "point_mass_denoiser",
]
