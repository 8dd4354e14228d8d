"""The host feeder: every batch it hands out is the normalization of the reader's rows, whether it was prepared in
the background, computed on the spot after a wrong guess, or augmented; both twins get the very same array."""

import numpy as np
import pytest
import torch

from nnlab.dogcat.augment import augment_numpy, draw
from nnlab.dogcat.cache import BatchReader
from nnlab.dogcat.data import DEFAULT_NORMALIZATION, Normalization
from nnlab.dogcat.feeder import BatchFeeder
from nnlab.dogcat.models import initial_state_dict
from nnlab.dogcat.train import train
from nnlab.dogcat.twins import ScratchTwin, TorchTwin
from parity_tests.dogcat.tiny_data import tiny_config, tiny_dogcat

NORM = Normalization(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def expected(images, idx, dtype, draws=None):
    rows = images[np.asarray(idx)]
    return NORM.apply_numpy(rows if draws is None else augment_numpy(rows, draws), dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_batch_is_the_normalization_of_its_rows(dtype):
    images = tiny_dogcat(n=40).images
    feeder = BatchFeeder(BatchReader(images), NORM, dtype)
    order = np.random.default_rng(1).permutation(40)
    try:
        for start in range(0, 40, 8):  # as the loop asks: each batch predicts the next
            idx, nxt = order[start:start + 8], order[start + 8:start + 16]
            got = feeder.batch(idx, next_idx=nxt)
            assert got.dtype == dtype and got.shape == (len(idx), 3, 8, 8)
            np.testing.assert_array_equal(got, expected(images, idx, dtype))
            assert feeder.batch(idx) is got  # the second twin: the same array, not a copy
        assert feeder.prepared_hits == 4  # every batch after the first was ready
        # a wrong guess: the prepared batch is dropped and the one asked for is computed
        feeder.batch(order[:8], next_idx=order[8:16])
        np.testing.assert_array_equal(feeder.batch(order[20:28]), expected(images, order[20:28], dtype))
        assert feeder.prepared_hits == 4
        # augmentation draws are never guessed: computed on the spot, also after a prediction of the same rows
        draws = draw(0, 0, 0, 8, shift=2)
        feeder.batch(order[:8], next_idx=order[8:16])
        np.testing.assert_array_equal(feeder.batch(order[8:16], draws), expected(images, order[8:16], dtype, draws))
        np.testing.assert_array_equal(feeder.eval_batch(order[:30]), expected(images, order[:30], dtype))
    finally:
        feeder.close()


def test_a_served_batch_is_untouched_while_the_next_is_prepared():
    images = tiny_dogcat(n=48).images
    feeder = BatchFeeder(BatchReader(images), NORM, np.float64)
    first = feeder.batch(np.arange(16), next_idx=np.arange(16, 32))
    kept = first.copy()
    feeder.close()  # waits for the prepared batch, written into the other buffer
    np.testing.assert_array_equal(first, kept)
    second = feeder.batch(np.arange(16, 32), next_idx=np.arange(32, 48))
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(feeder.batch(np.arange(32, 48)), expected(images, np.arange(32, 48), np.float64))
    feeder.close()


def test_lockstep_twins_train_on_one_array_without_a_copy(tmp_path):
    """Given one feeder, the torch twin's input tensor and the scratch twin's input array are one memory."""
    data = tiny_dogcat()
    cfg = tiny_config(tmp_path, impl="both").validated()
    spec = cfg.model_spec(data.images.shape[1:])
    reader = BatchReader(data.images)
    feeder = BatchFeeder(reader, DEFAULT_NORMALIZATION, np.float64)
    kw = dict(dtype="float64", optimizer=cfg.optimizer_kwargs(), feeder=feeder)
    init = initial_state_dict(spec, 0, "float64")
    t = TorchTwin(spec, init, reader, data.labels, DEFAULT_NORMALIZATION, device=torch.device("cpu"), **kw)
    s = ScratchTwin(spec, init, reader, data.labels, DEFAULT_NORMALIZATION, **kw)
    seen = {}
    torch_loss, scratch_forward = t.step_loss, s.module.forward
    t.step_loss = lambda x, y, n: (seen.setdefault("torch", x), torch_loss(x, y, n))[1]
    s.module.forward = lambda x: (seen.setdefault("scratch", x), scratch_forward(x))[1]
    for twin in (t, s):
        twin.set_epoch_order(np.arange(80))
        twin.train_step(0, 16)
    feeder.close()
    assert seen["torch"].dtype == torch.float64 and seen["scratch"].dtype == np.float64
    assert seen["torch"].data_ptr() == seen["scratch"].ctypes.data and seen["scratch"].shape == (16, 3, 8, 8)
    np.testing.assert_array_equal(seen["scratch"], DEFAULT_NORMALIZATION.apply_numpy(data.images[:16], np.float64))


def test_a_run_with_the_feeder_equals_one_without_prefetching(tmp_path, monkeypatch):
    """The background preparation changes no value: the weights of an epoch equal those of one computed on the spot."""
    kw = dict(impl="both", optimizer="adam", lr=1e-2, epochs=1)
    prepared = train(tiny_config(tmp_path / "a", **kw), data=tiny_dogcat(), log=lambda m: None)
    monkeypatch.setattr(BatchFeeder, "__init__", _without_prefetch(BatchFeeder.__init__))
    on_the_spot = train(tiny_config(tmp_path / "b", **kw), data=tiny_dogcat(), log=lambda m: None)
    for impl in ("torch", "scratch"):
        for name, value in prepared.final_states[impl].items():
            np.testing.assert_array_equal(on_the_spot.final_states[impl][name], value, err_msg=f"{impl} {name}")
    assert prepared.parity[-1]["max_abs_diff"] < 1e-14


def _without_prefetch(init):
    def wrapped(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.prefetch = False
    return wrapped
