"""The trainer on CUDA: the torch twin on the GPU in lockstep with the scratch twin on real photos (float64, every
model kind), --resume equal to the uninterrupted run under deterministic algorithms, and one process with nccl.

Skipped with the reason where torch sees no CUDA device; ``make gpu-check`` runs them on a GPU machine.
"""

import json

import numpy as np
import pytest
import torch

from nnlab.dogcat import checkpoint as ckpt_io
from nnlab.dogcat.distributed import launch_local
from nnlab.dogcat.train import train
from parity_tests.cuda.gpu import CUDA, quiet, run_config
from parity_tests.harness import compare

pytestmark = CUDA

#: Every model kind, with the settings the CPU lockstep tests prove (tests/dogcat/test_dogcat_train.py).
MODELS = {
    "logistic": dict(model="logistic", optimizer="adam", lr=1e-3),
    "mlp": dict(model="mlp", hidden=[32], activation="relu", optimizer="adamw", lr=1e-3),
    "mlp-batchnorm": dict(model="mlp", hidden=[32, 16], activation="tanh", batchnorm=True, optimizer="adam",
                          lr=1e-3),
    "cnn": dict(model="cnn", channels=[8, 16], optimizer="adam", lr=1e-2, scheduler="cosine", dropout=0.3,
                augment=True, shift=2, clip_grad=1.0, batch_size=32),
}


@pytest.mark.parametrize("photos", ["real_photos", "synthetic_photos"])
@pytest.mark.parametrize("kind", list(MODELS))
def test_torch_on_cuda_and_scratch_agree_after_an_epoch(tmp_path, request, kind, photos):
    """One epoch of 320 real photos (or 160 synthetic ones, which are always there) in float64: the torch twin
    on the GPU and the scratch twin on the host, same weights, batches, masks and flips: ≤ 1e-10 apart."""
    data = request.getfixturevalue(photos)
    result = train(run_config(tmp_path, impl="both", **MODELS[kind]), data=data, log=quiet)
    assert result.finished and len(result.parity) == 1
    worst = result.parity[0]
    assert worst["max_abs_diff"] <= 1e-10, f"{kind}: {worst['tensor']} differs by {worst['max_abs_diff']:.3e}"
    torch_state, scratch_state = result.final_states["torch"], result.final_states["scratch"]
    assert list(torch_state) == list(scratch_state)
    for name, value in torch_state.items():
        compare(f"CUDA lockstep, {kind}", name, scratch_state[name], value, rtol=1e-10, atol=1e-10)
    h = result.history[0]
    assert abs(h["train_loss"] - h["scratch_train_loss"]) < 1e-10 and h["val_accuracy"] == h["scratch_val_accuracy"]
    assert result.global_step == -(-int(0.8 * len(data.labels)) // 32)
    on_gpu = json.loads((tmp_path / "config.json").read_text())["resolved"]["device"]
    assert on_gpu.startswith("cuda")


RESUME = {
    "logistic": dict(model="logistic", optimizer="momentum", lr=0.05),
    "mlp-batchnorm": dict(model="mlp", hidden=[16], batchnorm=True, optimizer="adam", lr=1e-3),
    "cnn": dict(model="cnn", channels=[4, 8], optimizer="adam", lr=1e-2, dropout=0.3, augment=True, shift=2),
}


@pytest.mark.parametrize("kind", list(RESUME))
def test_resume_on_cuda_ends_with_the_uninterrupted_weights(tmp_path, synthetic_photos, deterministic, kind):
    """Deterministic algorithms on: a run stopped after 3 steps and resumed ends bit for bit where the run without
    a stop ends (2 epochs, the stop inside the first). The CNN's global average pooling has no deterministic
    CUDA backward in torch (``adaptive_avg_pool2d_backward_cuda``); with one output per channel every input
    receives exactly one addition, so its result is still exact, and the test runs it with ``warn_only``."""
    if kind == "cnn":
        torch.use_deterministic_algorithms(True, warn_only=True)
    common = dict(epochs=2, dtype="float32", **RESUME[kind])
    full = train(run_config(tmp_path / "full", **common), data=synthetic_photos, log=quiet)
    part = train(run_config(tmp_path / "part", max_steps=3, **common), data=synthetic_photos, log=quiet)
    assert not part.finished and part.global_step == 3
    lifted = run_config(tmp_path / "part", given=frozenset({"max_steps"}), **common)
    resumed = train(lifted, data=synthetic_photos, log=quiet, resume=str(tmp_path / "part" / "checkpoint.pt"))
    assert resumed.finished and resumed.global_step == full.global_step == 10
    for name, value in full.final_states["torch"].items():
        compare(f"resume on CUDA ({kind})", name, resumed.final_states["torch"][name], value, rtol=0, atol=0)


def _train_and_report(config, data, report_path):
    """Run in a launched process: train, then record the process group it trained in."""
    import torch.distributed as dist

    train(config, data=data, log=quiet)
    with open(report_path, "w") as f:
        json.dump({"initialized": dist.is_initialized(), "backend": dist.get_backend(),
                   "world_size": dist.get_world_size()}, f)


def test_one_launched_process_trains_through_nccl(tmp_path, synthetic_photos):
    """A launch of one process (as ``torchrun --nproc_per_node=1``) joins an nccl group of one, wraps the model in
    DDP (its gradients pass through nccl) and ends with the weights of a plain run on the GPU (float64)."""
    common = dict(impl="torch", model="mlp", hidden=[16], batchnorm=True, optimizer="adam", lr=1e-3, epochs=2)
    single = train(run_config(tmp_path / "single", **common), data=synthetic_photos, log=quiet)
    report = tmp_path / "group.json"
    launch_local(_train_and_report, 1, run_config(tmp_path / "ddp", **common), synthetic_photos, str(report))
    group = json.loads(report.read_text())
    assert group == {"initialized": True, "backend": "nccl", "world_size": 1}
    ckpt = ckpt_io.load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")
    assert ckpt["global_step"] == single.global_step
    for name, value in single.final_states["torch"].items():
        compare("one nccl process vs a plain run", name, np.asarray(ckpt["model"][name].cpu()), value,
                rtol=1e-10, atol=1e-10)
