"""The twins on their own: the device-resident batch path, the chunked upload, and a twin's steps
without the loop's bookkeeping equal to one epoch of ``train``."""

import numpy as np
import torch

from nnlab.dogcat.cache import BatchReader
from nnlab.dogcat.data import DEFAULT_NORMALIZATION, stratified_split
from nnlab.dogcat.models import initial_state_dict, max_parameter_difference
from nnlab.dogcat.train import epoch_order, train
from nnlab.dogcat.twins import TorchTwin, upload_uint8
from parity_tests.dogcat.tiny_data import tiny_config, tiny_dogcat
from parity_tests.harness import compare


def test_device_resident_batches_on_cpu_tensors(tmp_path):
    """The CUDA path (uint8 set uploaded once, batches cut by an on-device permutation) run on CPU tensors."""
    kw = dict(impl="torch", optimizer="adam", lr=1e-2, epochs=2, log_every=3)
    host = train(tiny_config(tmp_path / "host", resident_data=False, **kw), data=tiny_dogcat(), log=lambda m: None)
    resident = train(tiny_config(tmp_path / "resident", resident_data=True, **kw), data=tiny_dogcat(),
                     log=lambda m: None)
    for name, value in host.final_states["torch"].items():
        compare("device-resident batches", name, resident.final_states["torch"][name], value, rtol=0, atol=1e-14)
    timing = ("seconds", "images_per_second")
    assert [{k: v for k, v in r.items() if k not in timing} for r in resident.history] == \
           [{k: v for k, v in h.items() if k not in timing} for h in host.history]


def test_device_resident_augmentation_equals_the_host_path(tmp_path):
    """Flips and shifts done by torch on the resident uint8 set (the CUDA path, here on CPU tensors) give the
    very weights of the NumPy augmentation of host batches: the same images, bit for bit, at every step."""
    kw = dict(impl="torch", model="cnn", channels=[3], image_size=8, augment=True, shift=3, dropout=0.2,
              optimizer="adam", lr=1e-2, epochs=2)
    host = train(tiny_config(tmp_path / "host", resident_data=False, **kw), data=tiny_dogcat(), log=lambda m: None)
    resident = train(tiny_config(tmp_path / "resident", resident_data=True, **kw), data=tiny_dogcat(),
                     log=lambda m: None)
    plain = train(tiny_config(tmp_path / "plain", resident_data=True, **dict(kw, augment=False)),
                  data=tiny_dogcat(), log=lambda m: None)
    for name, value in host.final_states["torch"].items():
        compare("augmented device-resident batches", name, resident.final_states["torch"][name], value,
                rtol=0, atol=0)
    assert max_parameter_difference(plain.final_states["torch"], host.final_states["torch"])[0] > 1e-3


def test_upload_in_chunks_copies_everything():
    images = np.random.default_rng(0).integers(0, 256, (10, 3, 2, 2)).astype(np.uint8)
    images.setflags(write=False)  # like the read-only memory map of the cache
    out = upload_uint8(BatchReader(images), torch.device("cpu"), chunk=3)
    assert out.dtype == torch.uint8 and np.array_equal(out.numpy(), images)


def test_twin_steps_alone_equal_one_epoch_of_train(tmp_path):
    """A twin stepped through one epoch's batches takes exactly the steps of one epoch of ``train``."""
    data = tiny_dogcat()
    cfg = tiny_config(tmp_path, impl="torch", optimizer="momentum", epochs=1, resident_data=True).validated()
    reference = train(cfg, data=data, log=lambda m: None)
    train_idx, _ = stratified_split(data.labels, cfg.val_fraction, cfg.seed)
    spec = cfg.model_spec(data.images.shape[1:])
    twin = TorchTwin(spec, initial_state_dict(spec, cfg.seed, cfg.dtype), BatchReader(data.images), data.labels,
                     DEFAULT_NORMALIZATION, dtype=cfg.dtype, optimizer=cfg.optimizer_kwargs(),
                     device=torch.device("cpu"), resident=True)
    order = epoch_order(train_idx, cfg.seed, 0)
    twin.set_epoch_order(order)
    steps = range(0, len(order), cfg.batch_size)
    for start in steps:
        twin.train_step(start, min(start + cfg.batch_size, len(order)))
    assert len(steps) == 4
    for name, value in reference.final_states["torch"].items():
        compare("a twin's steps alone", name, twin.state_dict()[name], value, rtol=0, atol=0)
