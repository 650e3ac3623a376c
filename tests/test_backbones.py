"""Backbone factory: names, the paper's AlexNet, head swap, offline weights, blocks."""

import os
import socket
import urllib.error

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from sklearn_aift.backbones import (
    WeightsUnavailableError,
    build_backbone,
    bypass_blocks,
    feature_blocks,
    list_backbones,
    run_blocks,
)

# every test here builds a real network: the fast loop (`pytest -m "not slow"`) leaves them out
pytestmark = pytest.mark.slow

MOBILENET_V2_FILE = "mobilenet_v2-b0353104.pth"


def _hub_file(name):
    return os.path.join(torch.hub.get_dir(), "checkpoints", name)


@pytest.fixture
def mobilenet_v2_file():
    path = _hub_file(MOBILENET_V2_FILE)
    if not os.path.isfile(path):
        pytest.skip(f"{path} is missing; `make weights` installs it")
    return path


@pytest.fixture
def no_network(monkeypatch):
    """Any download or socket connection fails loudly."""

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network disabled in this test")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    return refuse


def test_list_backbones_matches_torchvision():
    names = list_backbones()
    assert names == sorted(torchvision.models.list_models(module=torchvision.models))
    assert {"alexnet", "mobilenet_v2", "resnet50", "vgg16"} <= set(names)


def test_unknown_backbone_lists_valid_names():
    with pytest.raises(ValueError, match="backbone='alexnett'") as info:
        build_backbone("alexnett", weights=None)
    assert "alexnet" in str(info.value) and "resnet18" in str(info.value)


def test_alexnet_is_the_papers_table_2():
    bb = build_backbone("alexnet", weights=None, n_classes=2, random_state=0)
    model = bb.model.eval()
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    pools = [m for m in model.features if isinstance(m, nn.MaxPool2d)]
    fcs = [m for m in model.classifier if isinstance(m, nn.Linear)]
    assert [c.kernel_size for c in convs] == [(11, 11), (5, 5), (3, 3), (3, 3), (3, 3)]
    assert [c.stride for c in convs] == [(4, 4), (1, 1), (1, 1), (1, 1), (1, 1)]
    assert [(p.kernel_size, p.stride) for p in pools] == [(3, 2)] * 3
    fc_shapes = [(f.in_features, f.out_features) for f in fcs]
    assert fc_shapes == [(256 * 6 * 6, 4096), (4096, 4096), (4096, 2)]  # fc6, fc7, fc8
    assert bb.head_name == "classifier.6"  # fc8
    # conv1..conv5 are the five feature blocks, each with its ReLU (and pooling)
    assert len(bb.blocks) == 5
    assert bb.min_size == (63, 63) and bb.native_size == (224, 224)
    x = torch.zeros(1, 3, 227, 227)
    with torch.no_grad():
        pool5 = run_blocks(model, bb.blocks, x)
        assert pool5.shape == (1, 256, 6, 6)
        assert model(x).shape == (1, 2)


@pytest.mark.parametrize(
    "name, head, kind",
    [
        ("resnet18", "fc", nn.Linear),
        ("squeezenet1_1", "classifier.1", nn.Conv2d),
        ("mobilenet_v3_small", "classifier.3", nn.Linear),
        ("googlenet", "fc", nn.Linear),
    ],
)
def test_head_is_replaced_with_n_classes_outputs(name, head, kind):
    bb = build_backbone(name, weights=None, n_classes=3, random_state=0)
    layer = bb.model.get_submodule(head)
    assert bb.head_name == head and isinstance(layer, kind)
    assert (layer.out_features if kind is nn.Linear else layer.out_channels) == 3
    bb.model.train()  # auxiliary heads (GoogLeNet) are gone: training returns plain logits
    out = bb.model(torch.rand(2, 3, 64, 64))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3)


def test_random_init_is_seeded():
    a = build_backbone("mobilenet_v3_small", weights=None, random_state=1).model.state_dict()
    b = build_backbone("mobilenet_v3_small", weights=None, random_state=1).model.state_dict()
    c = build_backbone("mobilenet_v3_small", weights=None, random_state=2).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["classifier.3.weight"], c["classifier.3.weight"])


def test_real_mobilenet_v2_file_loads_strictly(mobilenet_v2_file):
    state = torch.load(mobilenet_v2_file, map_location="cpu", weights_only=True)
    model = torchvision.models.mobilenet_v2()
    result = model.load_state_dict(state, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    # the same file as an explicit path: every body tensor comes from the file
    bb = build_backbone("mobilenet_v2", weights=mobilenet_v2_file, n_classes=2, random_state=0)
    loaded = bb.model.state_dict()
    body = [k for k in state if not k.startswith("classifier.1.")]
    assert all(torch.equal(loaded[k], state[k]) for k in body)
    assert loaded["classifier.1.weight"].shape == (2, 1280)
    assert bb.weights_id.startswith("file:")


@pytest.mark.parametrize("weights", ["IMAGENET1K_V1", "MobileNet_V2_Weights.IMAGENET1K_V1"])
def test_imagenet1k_v1_resolves_without_network(weights, mobilenet_v2_file, no_network):
    state = torch.load(mobilenet_v2_file, map_location="cpu", weights_only=True)
    bb = build_backbone("mobilenet_v2", weights=weights, n_classes=2, random_state=0)
    loaded = bb.model.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in state if not k.startswith("classifier.1."))
    assert bb.weights_id == "torchvision:MobileNet_V2_Weights.IMAGENET1K_V1"
    assert bb.mean == (0.485, 0.456, 0.406)


def test_missing_weights_error_explains_the_fix(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = os.path.join(str(tmp_path), "hub", "checkpoints")
    with pytest.raises(WeightsUnavailableError) as info:
        build_backbone("mobilenet_v2", weights="IMAGENET1K_V1")
    msg = str(info.value)
    assert "'mobilenet_v2'" in msg  # the backbone
    assert MOBILENET_V2_FILE in msg  # the file torchvision expects
    assert folder in msg and "TORCH_HOME" in msg  # where to put it
    assert "weights=None" in msg and "weights='/path/to" in msg  # the alternatives
    assert "network disabled" in msg  # why the download failed


def test_default_weights_offline_point_to_cached_alternative(no_network):
    if not os.path.isfile(_hub_file(MOBILENET_V2_FILE)):
        pytest.skip("needs the offline MobileNetV2 file")
    if os.path.isfile(_hub_file("mobilenet_v2-7ebf99e0.pth")):
        pytest.skip("IMAGENET1K_V2 is cached here, nothing is missing")
    with pytest.raises(WeightsUnavailableError) as info:
        build_backbone("mobilenet_v2", weights="DEFAULT")
    msg = str(info.value)
    assert "mobilenet_v2-7ebf99e0.pth" in msg
    assert "already in that folder, which load offline: IMAGENET1K_V1" in msg


def _offline_hub(tmp_path, monkeypatch, files=()):
    """A torch hub cache in ``tmp_path`` holding (empty stand-ins for) ``files``."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    folder = tmp_path / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    for name in files:
        (folder / name).write_bytes(b"")
    return folder


OFFLINE_LINE = 'AIFTNet("mobilenet_v2", weights="IMAGENET1K_V1", input_size=64) works here'


def test_default_alexnet_offline_names_the_offline_mobilenet(tmp_path, monkeypatch, no_network):
    from sklearn_aift import AIFTNet

    _offline_hub(tmp_path, monkeypatch, [MOBILENET_V2_FILE])
    X = np.zeros((2, 3, 64, 64), dtype=np.uint8)
    with pytest.raises(WeightsUnavailableError) as info:
        AIFTNet().fit(X, np.array([0, 1]))
    msg = str(info.value)
    assert "alexnet-owt-7be5be79.pth" in msg
    assert OFFLINE_LINE in msg and MOBILENET_V2_FILE in msg


def test_offline_mobilenet_is_suggested_only_when_its_file_is_there(
    tmp_path, monkeypatch, no_network
):
    _offline_hub(tmp_path, monkeypatch)
    with pytest.raises(WeightsUnavailableError) as info:
        build_backbone("alexnet")
    assert "AIFTNet(" not in str(info.value)


def test_missing_path_hint_does_not_point_at_an_online_only_file(tmp_path, monkeypatch):
    _offline_hub(tmp_path, monkeypatch, [MOBILENET_V2_FILE])
    with pytest.raises(WeightsUnavailableError, match="does not exist") as info:
        build_backbone("mobilenet_v2", weights=tmp_path / "nope.pth")
    msg = str(info.value)
    # DEFAULT is IMAGENET1K_V2, whose file is not offline: it is no "expected file" here
    assert "mobilenet_v2-7ebf99e0.pth" not in msg and "expects the file" not in msg
    assert "which load offline: IMAGENET1K_V1 (weights='IMAGENET1K_V1')" in msg


def test_unknown_weights_name_lists_valid_ones():
    with pytest.raises(ValueError, match="weights='IMAGENET21K'") as info:
        build_backbone("mobilenet_v2", weights="IMAGENET21K")
    msg = str(info.value)
    assert "Valid names: DEFAULT (= IMAGENET1K_V2), IMAGENET1K_V1, IMAGENET1K_V2;" in msg
    assert msg.count("DEFAULT") == 1


def test_weights_of_wrong_type():
    with pytest.raises(TypeError, match="weights"):
        build_backbone("alexnet", weights=3)


def test_missing_file_path(tmp_path):
    path = tmp_path / "nope.pth"
    with pytest.raises(WeightsUnavailableError, match="does not exist") as info:
        build_backbone("alexnet", weights=path)
    assert "nope.pth" in str(info.value) and "weights=None" in str(info.value)


def test_state_dict_with_wrong_keys(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    with pytest.raises(WeightsUnavailableError, match="keys or shapes") as info:
        build_backbone("mobilenet_v3_small", weights=str(path))
    assert "mobilenet_v3_small" in str(info.value)


def test_file_that_is_not_a_state_dict(tmp_path):
    path = tmp_path / "junk.pth"
    path.write_bytes(b"not a torch file")
    with pytest.raises(WeightsUnavailableError, match="weights_only=True"):
        build_backbone("mobilenet_v3_small", weights=path)


def test_file_with_n_classes_head_is_kept(tmp_path):
    src = build_backbone("mobilenet_v3_small", weights=None, n_classes=2, random_state=5).model
    path = tmp_path / "finetuned.pth"
    torch.save({"state_dict": src.state_dict()}, path)
    bb = build_backbone("mobilenet_v3_small", weights=path, n_classes=2, random_state=0)
    loaded = bb.model.state_dict()
    assert all(torch.equal(v, loaded[k]) for k, v in src.state_dict().items())


def test_load_weights_false_reads_no_file(no_network, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    bb = build_backbone("alexnet", weights="DEFAULT", n_classes=2, load_weights=False)
    assert bb.model.get_submodule(bb.head_name).out_features == 2


FAMILIES = [
    "resnet18",
    "mobilenet_v3_small",
    "squeezenet1_1",
    "shufflenet_v2_x0_5",
    "regnet_x_400mf",
    "mnasnet0_5",
    "efficientnet_b0",
    "densenet121",
]


@pytest.mark.parametrize("name", FAMILIES)
def test_frozen_prefix_then_rest_equals_full_network(name):
    torch.manual_seed(0)
    bb = build_backbone(name, weights=None, n_classes=2, random_state=0)
    model = bb.model.eval()
    assert len(bb.blocks) >= 4
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        full = model(x)
        for k in (1, len(bb.blocks) // 2, len(bb.blocks)):
            h = run_blocks(model, bb.blocks[:k], x)
            with bypass_blocks(model, bb.blocks[:k]):
                rest = model(h)
            torch.testing.assert_close(rest, full, atol=1e-5, rtol=1e-4)
    # the bypass is undone on exit
    with torch.no_grad():
        torch.testing.assert_close(model(x), full)


def test_blocks_cover_architecture_families():
    assert feature_blocks(torchvision.models.resnet18())[0] == ("conv1", "bn1", "relu", "maxpool")
    assert len(feature_blocks(torchvision.models.alexnet())) == 5
    vgg_like = nn.Module()
    vgg_like.features = torchvision.models.vgg.make_layers([8, "M", 16, 16, "M"], batch_norm=True)
    blocks = feature_blocks(vgg_like)  # conv + bn + relu (+ pool), like VGG-BN
    assert blocks == [
        ("features.0", "features.1", "features.2", "features.3"),
        ("features.4", "features.5", "features.6"),
        ("features.7", "features.8", "features.9", "features.10"),
    ]
    assert feature_blocks(torchvision.models.googlenet(weights=None, init_weights=False)) == []


def test_bypass_restores_forward_after_error():
    model = torchvision.models.squeezenet1_1()
    blocks = feature_blocks(model)[:2]
    with pytest.raises(RuntimeError, match="boom"):
        with bypass_blocks(model, blocks):
            raise RuntimeError("boom")
    assert "forward" not in vars(model.features[0])


def test_n_classes_must_be_positive():
    with pytest.raises(ValueError, match="n_classes"):
        build_backbone("alexnet", weights=None, n_classes=0)
