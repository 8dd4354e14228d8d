"""DistributedDataParallel on 2 CPU processes (gloo) takes exactly the steps of one process.

Both runs walk the same seeded global batches; each of the 2 processes takes
every other image of a batch and scales its loss sum by world/B, so the
gradient DDP averages is the single-process mean gradient. Batch size 13 on
64 training images also makes the last batch (12 images) and the odd-sized
shards (7 + 6) part of the check.
"""

import numpy as np
import pytest
import torch

from nnlab.dogcat.checkpoint import load_checkpoint
from nnlab.dogcat.distributed import DistContext, launch_local, shard
from nnlab.dogcat.config import TrainConfig
from nnlab.dogcat.train import train
from parity_tests.harness import compare
from parity_tests.dogcat.tiny_data import tiny_dogcat


def test_shards_cover_each_global_batch_once():
    batch = np.arange(100, 113)
    parts = [shard(batch, DistContext(rank=r, world_size=3)) for r in range(3)]
    assert sorted(np.concatenate(parts)) == list(batch)
    assert [len(p) for p in parts] == [5, 4, 4]
    assert torch.equal(shard(torch.arange(7), DistContext(rank=1, world_size=2)), torch.tensor([1, 3, 5]))


@pytest.mark.slow
def test_two_process_ddp_equals_single_process(tmp_path):
    data = tiny_dogcat()
    common = dict(model="mlp", hidden=[6], optimizer="adam", lr=1e-2, dtype="float64", batch_size=13,
                  epochs=2, device="cpu", image_size=8, tensorboard=False, progress=False, max_steps=7)
    single = train(TrainConfig(logdir=str(tmp_path / "single"), **common), data=data, log=lambda m: None)
    # fork: the children start with torch already imported (spawn would re-import it, seconds each)
    launch_local(train, 2, TrainConfig(logdir=str(tmp_path / "ddp"), **common), data=data, start_method="fork")
    ckpt = load_checkpoint(tmp_path / "ddp" / "checkpoint.pt")
    assert ckpt["global_step"] == single.global_step == 7  # 5 steps per epoch: stopped inside epoch 2
    for name, value in single.final_states["torch"].items():
        compare("DDP (2 processes) vs single process", name, ckpt["model"][name].numpy(), value,
                rtol=1e-10, atol=1e-10)
    assert ckpt["history"][0]["train_loss"] == pytest.approx(single.history[0]["train_loss"], rel=1e-10)
    assert ckpt["history"][0]["val_accuracy"] == single.history[0]["val_accuracy"]


def test_batchnorm_with_several_cpu_processes_is_refused():
    from nnlab.dogcat.distributed import prepare_batchnorm
    from nnlab.dogcat.models import ModelSpec, build_torch_model

    model = build_torch_model(ModelSpec("mlp", (3, 4, 4), hidden=(4,), batchnorm=True))
    with pytest.raises(ValueError, match="SyncBatchNorm needs CUDA"):
        prepare_batchnorm(model, DistContext(rank=0, world_size=2, backend="gloo"))


def _train_and_report(config, data, report_path):
    import json

    import torch.distributed as dist

    from nnlab.dogcat.twins import TorchTwin

    seen = {}
    original = TorchTwin.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen["wrapped"] = type(self.model).__name__

    TorchTwin.__init__ = spy
    train(config, data=data, log=lambda m: None)
    with open(report_path, "w") as f:
        json.dump({"backend": dist.get_backend(), "world_size": dist.get_world_size(), **seen}, f)


def test_a_launch_of_one_process_joins_a_group_of_one_and_trains_through_ddp(tmp_path):
    """As ``torchrun --nproc_per_node=1``: the process joins a group of one (gloo here, nccl on CUDA), wraps the model
    in DDP, and ends with the weights of a plain run."""
    import json

    data = tiny_dogcat()
    common = dict(model="mlp", hidden=[6], optimizer="adam", lr=1e-2, dtype="float64", batch_size=13, epochs=1,
                  device="cpu", image_size=8, tensorboard=False, progress=False)
    single = train(TrainConfig(logdir=str(tmp_path / "single"), **common), data=data, log=lambda m: None)
    report = tmp_path / "group.json"
    launch_local(_train_and_report, 1, TrainConfig(logdir=str(tmp_path / "one"), **common), data, str(report),
                 start_method="fork")
    assert json.loads(report.read_text()) == {"backend": "gloo", "world_size": 1,
                                              "wrapped": "DistributedDataParallel"}
    ckpt = load_checkpoint(tmp_path / "one" / "checkpoint.pt")
    for name, value in single.final_states["torch"].items():
        compare("one launched process vs a plain run", name, ckpt["model"][name].numpy(), value, rtol=1e-12,
                atol=1e-12)
