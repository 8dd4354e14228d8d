"""scratch.parallel: blocks of samples shared among threads give the very values of one thread."""

import threading

import numpy as np
import pytest

import scratch.normalization as sn
import scratch.parallel as par


@pytest.fixture
def threads():
    before = par.get_num_threads()
    yield par.set_num_threads
    par.set_num_threads(before)


def test_blocks_cover_every_sample_once_and_run_on_several_threads(threads):
    blocks = par.sample_blocks(10, 3000, target=6000)
    assert blocks == [(0, 2), (2, 4), (4, 6), (6, 8), (8, 10)]
    assert par.sample_blocks(3, 10**6) == [(0, 1), (1, 2), (2, 3)]  # one sample at least
    threads(3)
    seen, names = np.zeros(10, int), set()

    def mark(a, b):
        seen[a:b] += 1
        names.add(threading.current_thread().name)

    par.for_blocks(blocks, mark)
    assert seen.tolist() == [1] * 10 and len(names) >= 2  # the caller and at least one worker

    def fail(a, b):
        if a == 8:
            raise ZeroDivisionError("block 8")

    with pytest.raises(ZeroDivisionError, match="block 8"):
        par.for_blocks(blocks, fail)
    with pytest.raises(ValueError, match="positive integer"):
        par.set_num_threads(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batchnorm_values_do_not_depend_on_the_thread_count(threads, dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((12, 4, 60, 60)) * 2 + 1).astype(dtype)  # 14,400 values a sample: several blocks
    d = rng.standard_normal(x.shape).astype(dtype)
    results = []
    for n in (1, 3):
        threads(n)
        bn = sn.BatchNorm2d(4, dtype=dtype)
        bn.weight.data[...] = rng.standard_normal(4) if not results else results[0][3]
        y = bn.forward(x)
        dx = bn.backward(d)
        results.append((y, dx, bn.weight.grad.copy(), bn.weight.data.copy(), bn.running_var.copy()))
    for one, three in zip(results[0], results[1]):
        assert np.array_equal(one, three)


@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 1, 1)], ids=["tiled 2x2", "overlapping 3x3"])
def test_maxpool_values_and_gradients_do_not_depend_on_the_thread_count(threads, kernel, stride, padding):
    """Samples in blocks on 1 and on 3 threads: the same outputs and gradients bit for bit, ties and a NaN
    included, and torch's."""
    import torch

    import scratch.pooling as sp

    rng = np.random.default_rng(1)
    x = np.round(rng.standard_normal((20, 3, 60, 60)) * 2)  # several blocks of samples; rounded: many ties
    x[4, 1, 5, 5] = np.nan
    d = rng.standard_normal(sp.MaxPool2d(kernel, stride, padding).forward(x).shape)
    results = []
    for n in (1, 3):
        threads(n)
        pool = sp.MaxPool2d(kernel, stride, padding)
        results.append((pool.forward(x), pool.backward(d)))
    for one, three in zip(results[0], results[1]):
        assert np.array_equal(one, three, equal_nan=True)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.functional.max_pool2d(xt, kernel, stride, padding)
    yt.backward(torch.from_numpy(d))
    assert np.array_equal(results[1][0], yt.detach().numpy(), equal_nan=True)
    # overlapping windows add a pixel's gradients in another order than torch: equal to rounding
    np.testing.assert_allclose(results[1][1], xt.grad.numpy(), rtol=1e-12, atol=1e-12)
