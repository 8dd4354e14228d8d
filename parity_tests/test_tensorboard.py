"""The one histogram writer: histograms of arrays and tensors agree, and one event holds every tag of a step."""

import numpy as np
import pytest
import torch

from nnlab.tensorboard import EventWriter, histogram


def test_histogram_of_tensor_and_array_agree():
    rng = np.random.default_rng(1)
    values = rng.standard_normal((40, 30))
    a = histogram(values, bins=16)
    b = histogram(torch.from_numpy(values), bins=16)
    assert a.num == b.num == 1200 and a.bucket_counts.sum() == b.bucket_counts.sum() == 1200
    assert np.allclose(a.bucket_limits, b.bucket_limits) and np.array_equal(a.bucket_counts, b.bucket_counts)
    assert a.sum_squares == pytest.approx(float((values ** 2).sum()))
    assert histogram(np.zeros(5)).bucket_counts.tolist() == [5.0]
    assert histogram(np.array([1.0, np.nan])) is None and histogram(torch.zeros(0)) is None


def test_one_event_per_step_holds_scalars_and_histograms(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    values = np.linspace(-1.0, 1.0, 101)
    with EventWriter(tmp_path) as writer:
        for step in (0, 5):
            writer.write(step, scalars={"loss": 1.0 / (step + 1)}, histograms={"w": histogram(values + step, bins=8)})
    acc = EventAccumulator(str(tmp_path), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("loss")] == [(0, 1.0), (5, pytest.approx(1 / 6))]
    h = acc.Histograms("w")[-1].histogram_value
    assert acc.Histograms("w")[-1].step == 5 and h.num == 101 and sum(h.bucket) == 101
    assert h.min == pytest.approx(4.0) and h.max == pytest.approx(6.0) and len(h.bucket_limit) == 8
    with pytest.raises(ValueError, match="a logdir or a file_writer"):
        EventWriter()


def test_a_large_tensor_is_binned_from_a_stride_with_exact_range_count_and_sums():
    from nnlab.tensorboard import MAX_BINNED

    values = torch.from_numpy(np.random.default_rng(2).standard_normal(3 * MAX_BINNED + 5).astype(np.float32))
    h = histogram(values, bins=16)
    v = values.double().numpy()
    assert (h.min, h.max, h.num) == (v.min(), v.max(), v.size)
    assert h.sum == pytest.approx(v.sum(), abs=1e-6 * np.abs(v).sum()) and h.sum_squares == pytest.approx((v * v).sum(), rel=1e-4)
    assert h.bucket_counts.sum() == pytest.approx(v.size)
    exact, _ = np.histogram(v, bins=16, range=(v.min(), v.max()))
    np.testing.assert_allclose(h.bucket_counts, exact, rtol=0.02, atol=200)  # a quarter of the values, scaled by 4


def test_event_records_are_checksummed_in_c_with_tensorboards_values():
    import os

    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c as pure_python
    from tensorboard.summary.writer import record_writer

    import nnlab.tensorboard as tb

    assert tb.C_CRC32C and record_writer.masked_crc32c is not pure_python
    for n in (0, 1, 7, 100, 15_669):
        data = os.urandom(n)
        assert record_writer.masked_crc32c(data) == pure_python(data), n
