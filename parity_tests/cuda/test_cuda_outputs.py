"""What a CUDA run leaves behind reads like a CPU run's: the same TensorBoard tags, and a checkpoint that predicts
the CPU's probabilities on the GPU.

Skipped with the reason where torch sees no CUDA device; ``make gpu-check`` runs them on a GPU machine.
"""

import json

import numpy as np
import pytest
from PIL import Image

from nnlab.dogcat.train import train
from parity_tests.cuda.gpu import CUDA, SIZE, quiet, run_config
from parity_tests.scripts import load_script

pytestmark = CUDA


def tags_of(logdir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    steps = {tag: [e.step for e in acc.Scalars(tag)] for tag in tags["scalars"]}
    return {kind: sorted(tags[kind]) for kind in ("scalars", "histograms", "images", "tensors")}, steps


@pytest.mark.parametrize("model", [dict(model="logistic"), dict(model="cnn", channels=[4, 8], shift=2)],
                         ids=lambda m: m["model"])
def test_tensorboard_events_of_a_cuda_run_carry_the_cpu_runs_tags(tmp_path, synthetic_photos, model):
    common = dict(impl="torch", dtype="float32", epochs=2, tensorboard=True, hist_every=3, log_every=2,
                  val_examples=4, **model)
    train(run_config(tmp_path / "cuda", **common), data=synthetic_photos, log=quiet)
    train(run_config(tmp_path / "cpu", **dict(common, device="cpu")), data=synthetic_photos, log=quiet)
    (gpu_tags, gpu_steps), (cpu_tags, cpu_steps) = tags_of(tmp_path / "cuda"), tags_of(tmp_path / "cpu")
    assert gpu_tags == cpu_tags
    assert gpu_steps == cpu_steps  # the same scalars at the same steps
    assert "loss/train" in gpu_tags["scalars"] and any(t.startswith("grads/") for t in gpu_tags["histograms"])


@pytest.mark.parametrize("model", [dict(model="logistic"), dict(model="cnn", channels=[4, 8])],
                         ids=lambda m: m["model"])
def test_predict_on_cuda_gives_the_cpu_probabilities(tmp_path, synthetic_photos, capsys, monkeypatch, model):
    """``predict.py --device cuda`` and ``--device cpu`` on the same checkpoint and photos: P(dog) within 1e-6.
    float32 on both; the CNN's convolutions with TF32 off (torch's CUDA default rounds their products to 10
    significant bits, a difference near 1e-3 that is the hardware's, not the pipeline's)."""
    import torch

    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    train(run_config(tmp_path / "run", impl="torch", dtype="float32", epochs=1, **model), data=synthetic_photos,
          log=quiet)
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, (image, label) in enumerate(zip(synthetic_photos.images[:24], synthetic_photos.labels[:24])):
        name = f"{('cat', 'dog')[int(label)]}.{i}.png"
        Image.fromarray(np.ascontiguousarray(image.transpose(1, 2, 0))).save(folder / name)
    main = load_script("predict").main
    results = {}
    for device in ("cuda", "cpu"):
        out = tmp_path / f"{device}.json"
        assert main(["--checkpoint", str(tmp_path / "run"), "--device", device, "--quiet", "--json", str(out),
                     str(folder)]) == 0
        results[device] = {p["path"]: p["prob_dog"] for p in json.loads(out.read_text())["predictions"]}
    capsys.readouterr()
    assert results["cuda"].keys() == results["cpu"].keys() and len(results["cpu"]) == 24
    gpu, cpu = (np.array([results[d][k] for k in sorted(results["cpu"])]) for d in ("cuda", "cpu"))
    assert np.abs(gpu - cpu).max() <= 1e-6, f"largest difference {np.abs(gpu - cpu).max():.2e}"
    assert 0 < cpu.min() and cpu.max() < 1 and np.ptp(cpu) > 1e-4  # real, varied probabilities
    assert synthetic_photos.images.shape[-1] == SIZE
