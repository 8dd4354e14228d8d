"""Checkpoints: atomic writes, weights_only loading, exact resume, and moving weights between twins."""

import errno
import os
import pickle
import re
from dataclasses import replace

import numpy as np
import pytest
import torch

from nnlab.dogcat import checkpoint as ckpt_io
from nnlab.dogcat.predict import load_model
from nnlab.dogcat.config import TrainConfig
from nnlab.dogcat.train import train
from parity_tests.harness import compare
from parity_tests.dogcat.tiny_data import tiny_dogcat


def config(logdir, **kw):
    base = dict(dtype="float64", epochs=3, batch_size=16, lr=1e-2, logdir=str(logdir),
                tensorboard=False, progress=False, device="cpu", image_size=8)
    base.update(kw)
    return TrainConfig(**base)


def quiet(msg):
    pass


RESUME_CASES = [
    dict(impl="torch", model="mlp", hidden=[10], batchnorm=True, optimizer="adam"),
    dict(impl="scratch", model="logistic", optimizer="momentum", lr=0.1),
    dict(impl="both", model="mlp", hidden=[6], optimizer="adamw"),
]


@pytest.mark.parametrize("case", RESUME_CASES, ids=lambda c: f"{c['impl']}-{c['optimizer']}")
@pytest.mark.parametrize("k", [5, 8])  # mid-epoch 2, and exactly at the end of epoch 2
def test_resume_after_k_steps_equals_uninterrupted_run(tmp_path, case, k):
    data = tiny_dogcat()
    full = train(config(tmp_path / "full", **case), data=data, log=quiet)
    part = train(config(tmp_path / "part", max_steps=k, **case), data=data, log=quiet)
    assert not part.finished and part.global_step == k
    saved = ckpt_io.load_checkpoint(tmp_path / "part" / "checkpoint.pt")
    assert saved["global_step"] == k
    lifted = config(tmp_path / "part", given=frozenset({"max_steps"}), **case)  # as `--max-steps 0` lifts it
    resumed = train(lifted, data=data, log=quiet, resume=str(tmp_path / "part" / "checkpoint.pt"))
    assert resumed.finished and resumed.global_step == full.global_step == 12
    for impl, state in full.final_states.items():
        for name, value in state.items():
            compare(f"resume after {k} steps ({impl})", name, resumed.final_states[impl][name], value,
                    rtol=0, atol=1e-12)
    drop = ("seconds", "images_per_second")  # timings
    assert [{a: b for a, b in r.items() if a not in drop} for r in resumed.history] == \
           [{a: b for a, b in r.items() if a not in drop} for r in full.history]


def test_checkpoint_content_loads_with_weights_only(tmp_path):
    train(config(tmp_path, impl="both", epochs=1, model="mlp", hidden=[4]), data=tiny_dogcat(), log=quiet)
    path = tmp_path / "checkpoint.pt"
    raw = torch.load(path, weights_only=True)  # fails if anything but tensors and plain containers
    assert raw["format"] == ckpt_io.FORMAT and set(raw["twins"]) == {"torch", "scratch"}
    assert raw["epoch"] == 1 and raw["step_in_epoch"] == 0 and raw["config"]["impl"] == "both"
    assert raw["normalization"] == {"mean": [0.5, 0.5, 0.5], "std": [1.0, 1.0, 1.0]}
    assert set(raw["rng"]) >= {"python", "numpy", "torch"}
    assert isinstance(raw["twins"]["scratch"]["optimizer"]["state"][0]["exp_avg"], torch.Tensor)


def test_unsafe_or_foreign_files_are_refused(tmp_path):
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"format": ckpt_io.FORMAT, "x": np.float64(1.0).__class__}, f, protocol=2)
    with pytest.raises(ckpt_io.CheckpointError, match="cannot read checkpoint"):
        ckpt_io.load_checkpoint(evil)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ckpt_io.CheckpointError, match="not a dog/cat training checkpoint"):
        ckpt_io.load_checkpoint(other)
    with pytest.raises(ckpt_io.CheckpointError, match="not found"):
        ckpt_io.load_checkpoint(tmp_path / "missing.pt")


def test_save_is_atomic_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    ckpt_io.save_checkpoint(path, {"format": ckpt_io.FORMAT, "w": np.arange(3.0)})
    before = path.read_bytes()

    def torn_save(obj, f):
        f.write(b"PK\x03\x04 half a zip file")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_io.torch, "save", torn_save)
    with pytest.raises(OSError, match="disk full"):
        ckpt_io.save_checkpoint(path, {"format": ckpt_io.FORMAT, "w": np.arange(5.0)})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.pt"]  # the temporary file is gone
    assert torch.equal(ckpt_io.load_checkpoint(path)["w"], torch.arange(3.0, dtype=torch.float64))


def test_a_full_disk_while_checkpointing_keeps_the_old_checkpoint_and_says_so(tmp_path, monkeypatch):
    from nnlab.dogcat import diskspace

    data = tiny_dogcat()
    train(config(tmp_path, epochs=1), data=data, log=quiet)
    path = tmp_path / "checkpoint.pt"
    before = path.read_bytes()

    def no_room(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", no_room, raising=False)
    monkeypatch.setattr(diskspace, "free_bytes", lambda folder: 1000)
    resume = replace(config(tmp_path, epochs=2), given=frozenset({"epochs"}))
    with pytest.raises(ckpt_io.CheckpointError) as failure:
        train(resume, data=data, log=quiet, resume=str(path))
    assert re.fullmatch(rf"no space left for the checkpoint in {tmp_path} \(needs \d+\.\d kB, 1\.0 kB free\); the "
                        rf"previous checkpoint at {path} is unchanged", str(failure.value))
    assert path.read_bytes() == before and not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_save_writes_a_temp_file_beside_the_target_then_renames(tmp_path, monkeypatch):
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.dirname(src), os.path.dirname(dst), os.path.basename(src)))
        real_replace(src, dst)

    monkeypatch.setattr(ckpt_io.os, "replace", spy)
    ckpt_io.save_checkpoint(tmp_path / "sub" / "c.pt", {"format": ckpt_io.FORMAT})
    (src_dir, dst_dir, name), = seen
    assert src_dir == dst_dir == str(tmp_path / "sub") and name.startswith(".c.pt.") and name.endswith(".tmp")


@pytest.mark.parametrize("trained_by, loaded_into", [("scratch", "torch"), ("torch", "scratch")])
def test_checkpoint_of_one_twin_loads_into_the_other(tmp_path, trained_by, loaded_into):
    data = tiny_dogcat()
    result = train(config(tmp_path, impl=trained_by, epochs=1, model="mlp", hidden=[6, 4], batchnorm=True,
                          activation="elu"), data=data, log=quiet)
    model, spec, norm = load_model(tmp_path / "checkpoint.pt", impl=loaded_into, dtype="float64")
    state = model.state_dict()
    for name, value in result.final_states[trained_by].items():
        compare(f"{trained_by} checkpoint into {loaded_into}", name, np.asarray(state[name].cpu() if
                hasattr(state[name], "cpu") else state[name]), value, rtol=0, atol=0)
    x = norm.apply_numpy(data.images[:10], np.float64)
    same, _, _ = load_model(tmp_path / "checkpoint.pt", impl=trained_by, dtype="float64")
    run = {"torch": lambda m: m(torch.from_numpy(x)).detach().numpy(), "scratch": lambda m: m.forward(x)}
    compare("eval logits across twins", "logits", run[loaded_into](model), run[trained_by](same),
            rtol=1e-12, atol=1e-12)


def test_rng_states_round_trip():
    states = ckpt_io.rng_states()
    a = (np.random.rand(3), torch.rand(3), __import__("random").random())
    ckpt_io.restore_rng_states(ckpt_io.to_safe(states))
    b = (np.random.rand(3), torch.rand(3), __import__("random").random())
    assert np.array_equal(a[0], b[0]) and torch.equal(a[1], b[1]) and a[2] == b[2]
