"""The trainer's TensorBoard logs: both twins write the same tags into one run; read back with EventAccumulator."""

import numpy as np
import pytest
import torch

from nnlab.dogcat.tensorboard_log import captioned_grid, filter_grid, weight_image
from nnlab.dogcat.config import TrainConfig
from nnlab.dogcat.train import train
from parity_tests.dogcat.tiny_data import tiny_dogcat

SCALARS = {"loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr", "loss/train_recent",
           "hparam/val_accuracy", "hparam/val_loss"}


def read_events(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


@pytest.mark.parametrize("impl, model", [("torch", "logistic"), ("scratch", "logistic"), ("torch", "mlp"),
                                         ("scratch", "cnn")])
def test_event_files_hold_the_expected_tags(tmp_path, impl, model):
    cfg = TrainConfig(impl=impl, model=model, hidden=[5], dtype="float64", epochs=2, batch_size=16, lr=1e-2,
                      logdir=str(tmp_path), progress=False, device="cpu", image_size=8, hist_every=3,
                      log_every=2, val_examples=4, channels=[4, 5], scheduler="cosine", shift=2)
    result = train(cfg, data=tiny_dogcat(), log=lambda msg: None)
    acc = read_events(tmp_path)
    tags = acc.Tags()
    assert SCALARS <= set(tags["scalars"])
    params = ["classifier.weight", "classifier.bias"] + {
        "logistic": [], "mlp": ["features.0.weight", "features.0.bias"],
        "cnn": ["features.0.conv.weight", "features.0.bn.weight", "features.1.conv.weight", "features.1.bn.bias"],
    }[model]
    for name in params:
        assert f"weights/{name}" in tags["histograms"] and f"grads/{name}" in tags["histograms"]
    assert [e.step for e in acc.Histograms("weights/classifier.weight")] == [3, 6]  # 8 steps, every 3rd
    assert "val/examples" in tags["images"]
    assert ("weights/logistic" in tags["images"]) == (model == "logistic")
    assert ("weights/conv1_filters" in tags["images"]) == (model == "cnn")
    rates = acc.Scalars("lr")  # every step, the rate it took: 0.01 down a cosine over 8 steps
    assert [e.step for e in rates] == list(range(1, 9))
    assert rates[0].value == pytest.approx(1e-2) and all(a.value > b.value for a, b in zip(rates, rates[1:]))
    assert "val/pr_curve" in tags["tensors"]
    assert set(acc.PluginTagToContent("hparams")) >= {"_hparams_/experiment", "_hparams_/session_start_info"}
    val_acc = [e.value for e in acc.Scalars("accuracy/val")]
    assert [e.step for e in acc.Scalars("accuracy/val")] == [4, 8]
    assert val_acc == pytest.approx([h["val_accuracy"] for h in result.history])
    assert acc.Scalars("hparam/val_accuracy")[-1].value == pytest.approx(result.history[-1]["val_accuracy"])
    h = acc.Histograms("weights/classifier.weight")[-1].histogram_value
    assert h.num == {"logistic": 3 * 8 * 8, "mlp": 5, "cnn": 5}[model]


def test_weight_image_and_captioned_grid_shapes():
    w = np.linspace(-2, 1, 3 * 4 * 4)
    img = weight_image(w, (3, 4, 4))
    assert img.shape == (3, 4, 4) and img.min() == 0.0 and img.max() == pytest.approx(0.75)
    grid = captioned_grid(np.zeros((3, 3, 8, 8), np.uint8), [0.1, 0.5, 0.9], [0, 1, 1], tile=32)
    assert grid.shape == (32 + 26, 3 * 36, 3) and grid.dtype == np.uint8


def test_filter_grid_shows_each_filter_as_an_enlarged_tile_scaled_by_its_own_max():
    w = np.zeros((5, 3, 3, 3))
    w[0, 0, 1, 1] = 2.0  # a red centre
    w[1] = -0.5  # uniformly negative: black
    grid = filter_grid(w, zoom=4, gap=1)
    assert grid.shape == (3, 2 * 13 + 1, 3 * 13 + 1) and grid.dtype == np.float32  # 5 tiles in rows of 3
    tile0, tile1 = grid[:, 1:13, 1:13], grid[:, 1:13, 14:26]
    assert tile0[0, 4:8, 4:8].min() == 1.0 and tile0[1:, 4:8, 4:8].max() == 0.5 and tile0[0, 0, 0] == 0.5
    assert tile1.max() == 0.0 and grid[:, 0, :].min() == 1.0  # white gaps
    with pytest.raises(ValueError, match=r"expected RGB filters \(C_out, 3, kh, kw\), got shape \(4, 2, 3, 3\)"):
        filter_grid(np.zeros((4, 2, 3, 3)))
