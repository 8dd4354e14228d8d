"""Benchmarks: the scratch twin against torch, the data pipeline, logging, tests and memory.

Eleven figures, one module each, each a function returning :class:`~nnlab.bench.timing.Row`
objects (median, min and max of repeated runs, the target, whether it is met), run side by
side in one process by :func:`~nnlab.bench.runner.run_benchmark` and written as JSON with
the machine's description (``machine``); ``table`` prints the result::

    train_step    scratch/torch time of one training step on the CPU (logistic
                  30,000→1 and MLP 30,000-256-1 ReLU, batch 128, float32/float64,
                  SGD/Adam), and GFLOP/s of the two big matrix products against a
                  measured BLAS peak (a large square NumPy matmul)
    cnn_step      scratch/torch time of one training step of the dog/cat CNN
                  (16-32-64-128-256 on 3x100x100, float32, Adam, batch 64), its conv
                  GFLOP/s against the BLAS peak, and scratch's time per layer kind
    decode        first-pass JPEG → 3x100x100 uint8 decode, images per CPU-second on
                  one core and images/s on all cores, against the plain
                  Image.open(f).convert('RGB').resize((100, 100)) measured alongside
    cache_epoch   one epoch of batches from the memory-mapped uint8 cache against a
                  plain torch Dataset that decodes every JPEG each epoch
                  (DataLoader, num_workers = cores)
    cpu_epoch     an epoch on the CPU end to end (batches read from a 25,000-image
                  memory-mapped cache, normalized, trained; logistic and MLP, each
                  twin), images/s beside the bare step's images/s of the same model
    gpu_epoch     logistic model, 25,000 images resident on the GPU as uint8, batch
                  128 and 1,024, eager / torch.compile / CUDA graph, against the
                  bandwidth floor (one read of the images at the measured copy
                  bandwidth); skipped without CUDA
    gpu_cnn_epoch the CNN's epoch on the GPU as --amp trains it (25,000 images,
                  flips and shifts on the device, bf16, channels-last) against the
                  FLOP floor (its convolutions at the measured bf16 matmul peak)
    gpu_vanishing the vanishing study's torch twin on the GPU against the CPU, and
                  against the launch floor (kernels per step x launch time)
    tensorboard   dog/cat trainer with weight and gradient histograms at the default
                  interval against none, end to end and as one event's cost over the
                  interval's steps; the vanishing-gradient study's own figure
    parity_suite  wall time of the test suite as ``make test`` runs it (pytest -n auto)
    memory        peak RSS of a subprocess training the logistic model, and the CNN
                  (batch 64), for one epoch from a 25,000-image memory-mapped cache

Timings on a machine shared with other jobs are noisy: every figure reports the
median of repeats, and comparisons (scratch against torch, draft against baseline)
are timed interleaved, pair by pair, so a burst of load hits both sides (steps of a
few milliseconds in blocks of calls, each block's median a sample).
Targets are reported, never asserted.
"""

from nnlab.bench.runner import FIGURE_FUNCTIONS, run_benchmark, write_json  # noqa: F401
from nnlab.bench.settings import DEFAULT_OUT, FIGURES, GPU_FIGURES, MODES, BenchSettings  # noqa: F401
from nnlab.bench.table import format_table, summary_line  # noqa: F401
