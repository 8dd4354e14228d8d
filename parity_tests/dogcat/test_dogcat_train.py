"""Dog/cat training loop: scratch and torch in lockstep, divergence handling, metrics.

The lockstep test is the parity proof of the whole training step (model,
stable BCE from logits, backward, optimizer) on uint8 images through the
data module's normalization: both twins start from the same weights, take
the same batches, and after every epoch their parameters differ by at most
1e-10 in float64. The CNN's runs add dropout, a schedule, clipping and
augmentation: the same masks, rates and images on both sides.
"""

import io

import numpy as np
import pytest
import torch

from nnlab.dogcat import twins
from nnlab.dogcat.checkpoint import load_checkpoint
from nnlab.dogcat.data import ArrayData, decode_image
from nnlab.dogcat.metrics import format_confusion
from nnlab.dogcat.predict import load_model, run as predict
from nnlab.dogcat.train import TrainingDiverged, epoch_order, train
from parity_tests.harness import compare
from parity_tests.dogcat.tiny_data import tiny_config, tiny_dogcat


LOCKSTEP_CASES = [
    dict(model="logistic", optimizer="sgd", lr=0.5),
    dict(model="logistic", optimizer="momentum", lr=0.1, weight_decay=1e-3),
    dict(model="logistic", optimizer="adam", lr=1e-2),
    dict(model="mlp", hidden=[12], activation="relu", optimizer="adamw", lr=1e-2),
    dict(model="mlp", hidden=[12, 6], activation="tanh", batchnorm=True, optimizer="adam", lr=1e-2),
    dict(model="mlp", hidden=[10], activation="gelu", optimizer="rmsprop", lr=1e-3, batch_size=24),
    dict(model="cnn", channels=[3, 5], image_size=16, optimizer="adam", lr=1e-2, scheduler="cosine",
         warmup_epochs=0.5, dropout=0.3, augment=True, shift=2, clip_grad=1.0),
    dict(model="cnn", channels=[4], image_size=16, optimizer="momentum", lr=0.05, scheduler="onecycle",
         augment=False, dropout=0.0),
]
CNN = dict(model="cnn", channels=[3, 5], image_size=16, dropout=0.3, augment=True, shift=2, scheduler="cosine",
           warmup_epochs=1, clip_grad=1.0, optimizer="adam", lr=1e-2)


@pytest.mark.parametrize("case", LOCKSTEP_CASES, ids=lambda c: f"{c['model']}-{c['optimizer']}")
def test_lockstep_parameters_agree_each_epoch(tmp_path, case):
    cfg = tiny_config(tmp_path, impl="both", epochs=3, **case)
    result = train(cfg, data=tiny_dogcat(size=cfg.image_size), log=lambda msg: None)
    assert [p["epoch"] for p in result.parity] == [1, 2, 3]
    for p in result.parity:
        assert p["max_abs_diff"] <= 1e-10, f"epoch {p['epoch']}: {p['tensor']} differs by {p['max_abs_diff']:.3e}"
    torch_state, scratch_state = result.final_states["torch"], result.final_states["scratch"]
    assert list(torch_state) == list(scratch_state)
    for name in torch_state:
        compare(f"lockstep {case['model']}/{case['optimizer']}", name, scratch_state[name], torch_state[name],
                rtol=1e-10, atol=1e-10)
    h = result.history[-1]
    assert abs(h["train_loss"] - h["scratch_train_loss"]) < 1e-10
    assert h["val_accuracy"] == h["scratch_val_accuracy"]
    assert result.finished and result.global_step == 3 * -(-64 // cfg.batch_size)


def test_training_learns_and_reports_confusion(tmp_path):
    result = train(tiny_config(tmp_path, impl="scratch", epochs=4, optimizer="adam", lr=0.05),
                   data=tiny_dogcat(n=120), log=lambda msg: None)
    assert result.history[-1]["val_accuracy"] >= 0.9
    cm = result.confusion
    assert cm.shape == (2, 2) and cm.sum() == 24 and np.trace(cm) / cm.sum() == result.history[-1]["val_accuracy"]
    text = format_confusion(cm)
    assert "true cat" in text and "true dog" in text


def test_epoch_order_is_a_seeded_permutation():
    idx = np.arange(10, 30)
    a, b = epoch_order(idx, 0, 1), epoch_order(idx, 0, 1)
    assert np.array_equal(a, b) and sorted(a) == list(idx)
    assert not np.array_equal(a, epoch_order(idx, 0, 2))
    assert not np.array_equal(a, epoch_order(idx, 1, 1))


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    """A weight turned NaN mid-epoch 2: training stops with a clear message; the checkpoint stays good."""
    original = twins.TorchTwin.train_step
    calls = {"n": 0}

    def poisoned(self, start, end, draws=None):
        calls["n"] += 1
        if calls["n"] == 7:  # epoch 2 (4 steps per epoch), after a mid-epoch checkpoint at step 6
            with torch.no_grad():
                self.module.classifier.weight[0, 0] = float("nan")
        return original(self, start, end, draws)

    monkeypatch.setattr(twins.TorchTwin, "train_step", poisoned)
    cfg = tiny_config(tmp_path, impl="torch", epochs=3, checkpoint_every=2)
    with pytest.raises(TrainingDiverged) as info:
        train(cfg, data=tiny_dogcat(), log=lambda msg: None)
    message = str(info.value)
    assert "nan" in message and "global step 7" in message
    assert "last good checkpoint" in message and "checkpoint.pt" in message and "--lr" in message
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert (ckpt["epoch"], ckpt["step_in_epoch"], ckpt["global_step"]) == (1, 2, 6)
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values())


def test_real_divergence_is_caught_for_both_twins(tmp_path):
    """SGD with an absurd step on a float32 MLP overflows; both twins report it, neither crashes."""
    for impl in ("torch", "scratch"):
        cfg = tiny_config(tmp_path / impl, impl=impl, dtype="float32", model="mlp", hidden=[16, 16],
                          optimizer="sgd", lr=1e30, epochs=2)
        with pytest.raises(TrainingDiverged, match="training loss became (nan|inf)"):
            train(cfg, data=tiny_dogcat(), log=lambda msg: None)


def test_lockstep_on_real_photos(tmp_path, shared_dogcat):
    """The parity proof at full size: 48 shared Kaggle photos at 3x100x100, logistic and MLP, float64."""
    paths = [shared_dogcat / f"{kind}.{i}.jpg" for i in range(24) for kind in ("cat", "dog")]
    data = ArrayData(np.stack([decode_image(p, 100) for p in paths]),
                     np.array([int(p.name.startswith("dog")) for p in paths]), "48 shared photos")
    for case in (dict(model="logistic", optimizer="adam", lr=1e-3),
                 dict(model="mlp", hidden=[16], optimizer="momentum", lr=1e-2)):
        cfg = tiny_config(tmp_path / case["model"], impl="both", image_size=100, epochs=1, batch_size=12, **case)
        result = train(cfg, data=data, log=lambda msg: None)
        assert result.parity[0]["max_abs_diff"] <= 1e-10, result.parity


def test_lockstep_cnn_on_real_photos(tmp_path, shared_dogcat):
    """The CNN's parity proof on 240 shared Kaggle photos (at 32x32, two narrow blocks, so it stays quick):
    one epoch with dropout, augmentation, a warmed-up cosine schedule and clipping, float64."""
    paths = [shared_dogcat / f"{kind}.{i}.jpg" for i in range(120) for kind in ("cat", "dog")]
    data = ArrayData(np.stack([decode_image(p, 32) for p in paths]),
                     np.array([int(p.name.startswith("dog")) for p in paths]), "240 shared photos")
    cfg = tiny_config(tmp_path, impl="both", epochs=1, batch_size=32, **dict(CNN, image_size=32, warmup_epochs=0.5))
    result = train(cfg, data=data, log=lambda msg: None)
    assert result.global_step == 6 and result.parity[0]["max_abs_diff"] <= 1e-10, result.parity


def test_cnn_resume_equals_the_uninterrupted_run(tmp_path):
    """Stopped mid-epoch 2 by max_steps, resumed: dropout generators, schedule, augmentation draws and
    BatchNorm buffers continue exactly; both twins end where the uninterrupted run ends (1e-12)."""
    data = tiny_dogcat(size=16)
    full = train(tiny_config(tmp_path / "full", impl="both", epochs=3, **CNN), data=data, log=lambda m: None)
    part = tiny_config(tmp_path / "part", impl="both", epochs=3, max_steps=6, **CNN)
    assert not train(part, data=data, log=lambda m: None).finished
    lifted = tiny_config(tmp_path / "part", impl="both", epochs=3, given=frozenset({"max_steps"}), **CNN)
    resumed = train(lifted, data=data, resume=str(tmp_path / "part" / "run"), log=lambda m: None)
    assert resumed.finished and resumed.global_step == full.global_step == 12
    for twin in ("torch", "scratch"):
        for name, value in full.final_states[twin].items():
            compare(f"resumed CNN, {twin} twin", name, resumed.final_states[twin][name], value, rtol=0, atol=1e-12)


def test_cnn_checkpoint_loads_into_both_twins_and_predict(tmp_path):
    """A CNN trained by the scratch twin: both twins rebuild it from the checkpoint's model spec and agree,
    and scripts/predict.py's run prints P(dog) for image files of any size."""
    from PIL import Image

    data = tiny_dogcat(size=16)
    train(tiny_config(tmp_path, impl="scratch", epochs=2, **CNN), data=data, log=lambda m: None)
    ckpt = tmp_path / "run" / "checkpoint.pt"
    t_model, spec, norm = load_model(ckpt, "torch", "float64")
    s_model, _, _ = load_model(ckpt, "scratch", "float64")
    assert spec.kind == "cnn" and spec.channels == (3, 5) and spec.dropout == 0.3
    x = norm.apply_numpy(data.images[:10], np.float64)
    compare("CNN from a checkpoint", "logits", s_model.forward(x), t_model(torch.from_numpy(x)), rtol=1e-10, atol=1e-12)
    paths = []
    for i in range(3):
        paths.append(str(tmp_path / f"photo{i}.png"))
        Image.fromarray(np.moveaxis(data.images[i], 0, -1)).resize((40 + i, 30)).save(paths[-1])
    out, err = io.StringIO(), io.StringIO()
    assert predict(str(ckpt), paths, impl="scratch", device="cpu", out=out, err=err) == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and all("P(dog)=" in line and line.split()[-1] in ("dog", "cat") for line in lines)


def test_cnn_under_ddp_syncs_batchnorm_on_cuda_and_is_refused_on_cpu_processes():
    """The CNN's BatchNorm2d layers become SyncBatchNorm under nccl (the module swap, done here on the CPU);
    with gloo, where there is no SyncBatchNorm, a multi-process CNN is refused with the reason."""
    from nnlab.dogcat.distributed import DistContext, prepare_batchnorm
    from nnlab.dogcat.models import ModelSpec, build_torch_model

    spec = ModelSpec("cnn", (3, 16, 16), channels=(3, 4))
    synced = prepare_batchnorm(build_torch_model(spec), DistContext(rank=0, world_size=2, backend="nccl"))
    kinds = {type(m).__name__ for m in synced.modules()}
    assert "SyncBatchNorm" in kinds and "BatchNorm2d" not in kinds
    assert list(synced.state_dict()) == list(build_torch_model(spec).state_dict())  # checkpoints unchanged
    with pytest.raises(ValueError, match="every block of --model cnn.*SyncBatchNorm needs CUDA"):
        prepare_batchnorm(build_torch_model(ModelSpec("cnn", (3, 16, 16), channels=(3,))),
                          DistContext(rank=0, world_size=2, backend="gloo"))
