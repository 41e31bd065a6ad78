"""The FID Inception-v3: architecture, pytorch-fid key names, strict loading, and the missing-weights message.

There are no real weights here, so these tests pin the architecture (parameter count, key names
and shapes, output shapes) and the loading path with random weights; numerical parity with
pytorch-fid on the real weights is not verified here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from dvcore_metrics import (
    FID,
    FID_WEIGHTS_FILE,
    FID_WEIGHTS_URL,
    WEIGHTS_ENV,
    FIDInceptionV3,
    FIDOptions,
    InceptionFeatures,
    InvalidWeightsError,
    MissingWeightsError,
    clear_shared_extractors,
    load_fid_inception,
    resolve_weights_path,
)
from dvcore_metrics.inception import FIDInceptionE, tf_avg_pool_3x3


@pytest.fixture(scope="module")
def net() -> FIDInceptionV3:
    torch.manual_seed(0)
    return FIDInceptionV3().eval()


@pytest.fixture(scope="module")
def weights_file(net: FIDInceptionV3, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state dict of random weights saved as pytorch-fid's file would be."""
    path = tmp_path_factory.mktemp("weights") / FID_WEIGHTS_FILE
    torch.save(net.state_dict(), path)
    return path


# ---------------------------------------------------------------------------------------------
#                                   Architecture
# ---------------------------------------------------------------------------------------------


def test_parameter_count_is_torchvisions_inception_v3_without_aux_head_and_with_1008_classes(
    net: FIDInceptionV3,
) -> None:
    torchvision_inception_v3 = 27_161_264  # torchvision docs, Inception_V3_Weights: num_params
    aux_head = (768 * 128 + 2 * 128) + (128 * 768 * 25 + 2 * 768) + (768 * 1000 + 1000)  # conv0, conv1, fc
    extra_classes = 8 * (2048 + 1)  # fc: 1008 outputs instead of 1000
    expected = torchvision_inception_v3 - aux_head + extra_classes
    assert sum(p.numel() for p in net.parameters()) == expected == 23_850_960


def test_state_dict_keys_follow_pytorch_fid_naming(net: FIDInceptionV3) -> None:
    state = net.state_dict()
    shapes = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
        "Conv2d_1a_3x3.bn.running_var": (32,),
        "Conv2d_4a_3x3.conv.weight": (192, 80, 3, 3),
        "Mixed_5b.branch1x1.conv.weight": (64, 192, 1, 1),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
        "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
        "Mixed_7c.branch3x3dbl_1.conv.weight": (448, 2048, 1, 1),
        "Mixed_7c.branch3x3dbl_3b.bn.weight": (384,),
        "fc.weight": (1008, 2048),
        "fc.bias": (1008,),
    }
    assert {k: tuple(state[k].shape) for k in shapes} == shapes
    assert "Mixed_5b.branch1x1.bn.num_batches_tracked" in state
    prefixes = {k.split(".")[0] for k in state}
    assert prefixes == {
        *(f"Conv2d_{n}" for n in ("1a_3x3", "2a_3x3", "2b_3x3", "3b_1x1", "4a_3x3")),
        *(f"Mixed_{n}" for n in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c")),
        "fc",
    }  # no AuxLogits: the FID graph has no auxiliary classifier


def test_features_of_any_size_images_are_2048_pool_features_and_1008_logits(net: FIDInceptionV3) -> None:
    """One full 299x299 forward pass (the images are resized), batch of 2."""
    images = torch.rand(2, 3, 32, 32)
    with torch.inference_mode():
        out = InceptionFeatures(net)(images)
        logits_of_pool = net.fc(out.pool)
    assert out.pool.shape == (2, 2048) and out.logits is not None and out.logits.shape == (2, 1008)
    assert torch.isfinite(out.pool).all() and (out.pool >= 0).all()  # averages of ReLU outputs
    assert torch.allclose(out.logits, logits_of_pool, atol=1e-5)


def test_tensorflow_average_pool_ignores_the_padding() -> None:
    ones = torch.ones(1, 1, 4, 4)
    assert torch.equal(tf_avg_pool_3x3(ones), ones)  # corners average 4 pixels, not 4 of 9


def test_last_mixed_block_max_pools_its_pool_branch() -> None:
    torch.manual_seed(1)
    avg, mx = FIDInceptionE(16, pool="avg").eval(), FIDInceptionE(16, pool="max").eval()
    mx.load_state_dict(avg.state_dict())
    x = torch.randn(1, 16, 5, 5)
    with torch.inference_mode():
        a, m = avg(x), mx(x)
    assert torch.equal(a[:, :-192], m[:, :-192])  # same convolutions
    assert not torch.allclose(a[:, -192:], m[:, -192:])  # only the pool branch differs
    with torch.inference_mode():
        expected = mx.branch_pool(torch.nn.functional.max_pool2d(x, 3, stride=1, padding=1))
    assert torch.equal(m[:, -192:], expected)


# ---------------------------------------------------------------------------------------------
#                                   Loading
# ---------------------------------------------------------------------------------------------


def assert_same_state(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_saved_state_dict_loads_strictly(net: FIDInceptionV3, weights_file: Path) -> None:
    loaded = load_fid_inception(weights_file)
    assert_same_state(loaded, net)
    assert not loaded.training and not any(p.requires_grad for p in loaded.parameters())
    x = torch.rand(1, 3, 75, 75) * 2 - 1  # the smallest input the network takes: a cheap forward
    with torch.inference_mode():
        assert all(torch.equal(a, b) for a, b in zip(loaded(x), net(x), strict=True))


def test_a_safetensors_conversion_loads_too(net: FIDInceptionV3, tmp_path: Path) -> None:
    path = tmp_path / "pt_inception-2015-12-05-6726825d.safetensors"
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(path))
    assert_same_state(load_fid_inception(path), net)


def test_state_dicts_without_batchnorm_counters_load(net: FIDInceptionV3, tmp_path: Path) -> None:
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "old.pth")
    assert_same_state(load_fid_inception(tmp_path / "old.pth"), net)


def test_other_inception_weights_are_rejected_with_what_differs(net: FIDInceptionV3, tmp_path: Path) -> None:
    state = dict(net.state_dict())
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)  # ImageNet-1k head
    state["AuxLogits.fc.weight"] = torch.zeros(1000, 768)
    del state["Mixed_7c.branch_pool.conv.weight"]
    torch.save(state, tmp_path / "torchvision.pth")
    with pytest.raises(InvalidWeightsError) as info:
        load_fid_inception(tmp_path / "torchvision.pth")
    message = str(info.value)
    assert f"is not the FID Inception state dict ({FID_WEIGHTS_FILE})" in message
    assert "1 missing keys (Mixed_7c.branch_pool.conv.weight)" in message
    assert "1 unexpected keys (AuxLogits.fc.weight)" in message
    assert "fc.weight expected [1008, 2048], got [1000, 2048]" in message
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(InvalidWeightsError, match="holds a list, not a state dict of tensors"):
        load_fid_inception(tmp_path / "list.pth")


# ---------------------------------------------------------------------------------------------
#                                   Finding the weights, or saying which are missing
# ---------------------------------------------------------------------------------------------


def test_missing_weights_message_says_which_file_where_to_get_it_and_how_to_point_at_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    with pytest.raises(MissingWeightsError) as info:
        FID(FIDOptions())
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)  # what a CLI catches to exit cleanly
    assert "weights option is unset and $DVCORE_FID_WEIGHTS is not set" in message
    assert FID_WEIGHTS_FILE in message
    assert FID_WEIGHTS_URL == (
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
    )
    assert FID_WEIGHTS_URL in message
    assert f'weights = "/path/to/{FID_WEIGHTS_FILE}"' in message
    assert f"export DVCORE_FID_WEIGHTS=/path/to/{FID_WEIGHTS_FILE}" in message
    assert 'features = "random_conv"' in message


def test_missing_weights_message_names_the_path_that_was_tried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path / "nowhere.pth"))
    with pytest.raises(
        MissingWeightsError, match=r"\$DVCORE_FID_WEIGHTS points at '.*nowhere\.pth', which does not exist"
    ):
        resolve_weights_path(None)
    with pytest.raises(
        MissingWeightsError, match=r"the weights option points at '.*other\.pth', which does not"
    ):
        resolve_weights_path(str(tmp_path / "other.pth"))  # the option wins over the environment
    with pytest.raises(
        MissingWeightsError,
        match=rf"the weights option is the folder '.*', which holds no {FID_WEIGHTS_FILE}",
    ):
        resolve_weights_path(str(tmp_path))


def test_recipe_validation_reports_missing_weights_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    [(field, message)] = list(FIDOptions().problems())
    assert field == "weights" and "\n" not in message
    assert FID_WEIGHTS_FILE in message and FID_WEIGHTS_URL in message and WEIGHTS_ENV in message
    assert list(FIDOptions(features="random_conv").problems()) == []


def test_weights_are_found_through_the_environment_variable_or_a_folder(
    weights_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WEIGHTS_ENV, str(weights_file))
    assert resolve_weights_path(None) == weights_file
    assert resolve_weights_path(str(weights_file.parent)) == weights_file
    assert list(FIDOptions().problems()) == []
    try:
        metric = FID(FIDOptions(device="cpu"))
        assert (metric.extractor.name, metric.extractor.dim) == ("fid_inception_v3", 2048)
        assert (
            metric.extractor is FID(FIDOptions(device="cpu", weights=str(weights_file))).extractor
        )  # shared
    finally:
        clear_shared_extractors()
