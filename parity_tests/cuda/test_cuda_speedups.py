"""The GPU's speed-ups keep the arithmetic: --amp (bfloat16 autocast) and --compile follow the float32 eager run,
and the benchmark's CUDA graph replays the very steps of the eager loop it stands for.

Tolerances, stated as the distance between the two runs' parameters over the distance the float32 eager run
travelled from the initial weights, after K steps of SGD with momentum (Adam's g/√v would turn round-off in a
tiny gradient into a full step):

- ``--amp``: bfloat16 keeps 8 significant bits (relative rounding 2⁻⁹ ≈ 0.2 %); the products and activations
  inside autocast round there, the weights and the optimizer stay float32. Bound: 10 % of the distance.
- ``--compile``: the same float32 arithmetic, fused into fewer kernels, differs only in the order of sums.
  Bound: 0.1 % of the distance.

Skipped with the reason where torch sees no CUDA device; ``make gpu-check`` runs them on a GPU machine.
"""

import numpy as np
import pytest
import torch

from nnlab.dogcat.models import initial_state_dict
from nnlab.dogcat.train import train
from parity_tests.cuda.gpu import CUDA, quiet, run_config

pytestmark = CUDA

K = 12  # steps: more than two epochs of the 160 synthetic training photos in batches of 32
MODELS = {
    "logistic": dict(model="logistic"),
    "mlp": dict(model="mlp", hidden=[32], activation="relu"),
    "cnn": dict(model="cnn", channels=[8, 16], dropout=0.0, augment=False, scheduler="none"),
}
SGD = dict(optimizer="momentum", lr=0.02, dtype="float32", max_steps=K, epochs=3)


def relative_gap(state, reference, start) -> tuple[float, float]:
    """(‖state − reference‖ / ‖reference − start‖, the largest |value|) over every float tensor."""
    names = [n for n, v in reference.items() if np.asarray(v).dtype.kind == "f"]
    gap = np.sqrt(sum(np.sum((np.asarray(state[n], np.float64) - reference[n]) ** 2) for n in names))
    travel = np.sqrt(sum(np.sum((np.asarray(reference[n], np.float64) - start[n]) ** 2) for n in names))
    return float(gap / travel), float(max(np.abs(np.asarray(state[n])).max() for n in names))


def start_of(config, data):
    spec = config.validated().model_spec(data.images.shape[1:])
    return {k: np.asarray(v, np.float64) for k, v in initial_state_dict(spec, config.seed, "float32").items()}


def test_the_benchmarks_cuda_graph_replays_the_eager_steps():
    """The bench's logistic epoch as a CUDA graph: from the same weights and Adam state (capturable, as captured),
    K replays with the batches' indices copied into the static buffer end where K eager steps end (float32,
    ≤ 1e-6 of the largest weight: the same kernels, launched by the graph instead of by Python)."""
    from nnlab.bench.gpu_epoch import GpuLogistic
    from nnlab.dogcat.normalization import DEFAULT_NORMALIZATION

    device = torch.device("cuda")
    gen = torch.Generator(device=device).manual_seed(0)
    images = torch.randint(0, 256, (600, 3, 16, 16), dtype=torch.uint8, device=device, generator=gen)
    labels = torch.randint(0, 2, (600,), device=device, generator=gen).float()
    graphed = GpuLogistic(images, labels, 128, "cuda_graph", DEFAULT_NORMALIZATION)
    eager = GpuLogistic(images, labels, 128, "plain", DEFAULT_NORMALIZATION)
    eager.model.load_state_dict(graphed.model.state_dict())
    eager.opt.load_state_dict(graphed.opt.state_dict())  # capturable Adam, its step counts on the device
    assert eager.opt.param_groups[0]["capturable"]
    before = graphed.model.weight.detach().clone()
    order = torch.randperm(600, device=device, generator=gen)
    for start in range(0, 600, 128):  # four full batches and one of 88: both captured sizes
        idx = order[start:start + 128]
        graphed.step(idx)
        eager.step(idx)
    torch.cuda.synchronize()
    for (name, a), b in zip(graphed.model.state_dict().items(), eager.model.state_dict().values()):
        assert torch.isfinite(a).all(), name
        assert (a - b).abs().max().item() <= 1e-6 * b.abs().max().item(), name
    assert (graphed.model.weight - before).abs().max().item() > 0  # the replays really trained


CASES = [("amp", 0.1, kind) for kind in MODELS] + [("compile", 1e-3, "logistic"), ("compile", 1e-3, "cnn")]


@pytest.mark.parametrize("switch, bound, kind", CASES, ids=[f"{s}-{k}" for s, _, k in CASES])
def test_amp_and_compile_follow_the_float32_eager_run(tmp_path, synthetic_photos, kind, switch, bound):
    eager_cfg = run_config(tmp_path / "eager", impl="torch", **SGD, **MODELS[kind])
    eager = train(eager_cfg, data=synthetic_photos, log=quiet)
    fast = train(run_config(tmp_path / switch, impl="torch", **{switch: True}, **SGD, **MODELS[kind]),
                 data=synthetic_photos, log=quiet)
    assert eager.global_step == fast.global_step == K
    state, reference = fast.final_states["torch"], eager.final_states["torch"]
    gap, largest = relative_gap(state, reference, start_of(eager_cfg, synthetic_photos))
    assert np.isfinite(largest), f"--{switch} {kind}: non-finite parameters"
    assert all(np.isfinite(np.asarray(v)).all() for v in state.values())
    assert gap <= bound, f"--{switch} {kind}: {gap:.2e} of the float32 eager run's distance apart (bound {bound})"
    assert len(fast.history) == 2 and all(np.isfinite(h["train_loss"]) for h in fast.history)
