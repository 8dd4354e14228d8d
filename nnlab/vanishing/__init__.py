"""Vanishing gradients, measured: one deep MLP, built twice from identical weights.

The story in numbers. Backpropagation through a hidden layer multiplies the
upstream gradient by ``Wᵀ diag(f'(z))``. For a width-n layer with i.i.d.
weights of variance v, E‖Wᵀ diag(f') δ‖² = n·v·E[f'²]·‖δ‖², so each layer
scales the gradient by about

    r = √(n·v) · rms(f'(z)).

* Sigmoid, torch's default init: v = 1/(3n) and f' = σ(1−σ) ≤ 1/4, so
  r ≤ (1/4)·√(1/3) ≈ 0.144. Between the first and the last width×width
  hidden layer of a depth-10 MLP lie 7 such factors: 0.144⁷ ≈ 1.3·10⁻⁶.
  The first layers do not learn.
* Sigmoid outputs are all positive: for one sample the weight gradient of
  the next layer is dL/dW = δ·aᵀ with a > 0, so every row has one sign and
  gradient descent can only move a neuron's incoming weights all up or all
  down (the zigzag).
* ReLU has f' ∈ {0, 1}; He init v = 2/n makes n·v·E[f'²] = 2·½ = 1, so r ≈ 1.
  A unit whose pre-activation is negative for every sample has zero gradient
  for good (dead ReLU); LeakyReLU keeps a small slope and never a zero.
* BatchNorm rescales every pre-activation to unit variance, and its backward
  divides by the same standard deviation, so r ≈ rms(f')/std(f(ẑ)) ≈ 1 for
  any init.

The study, one module per stage:

* ``config``   — which networks (:class:`MLPConfig`) and how they train (:class:`StudySettings`);
* ``networks`` — the MLP (``Linear → [BatchNorm1d] → activation`` blocks, then a
  ``Linear`` head) built with ``scratch``, its ``state_dict`` loaded into the ``torch`` twin;
* ``task``     — a fixed synthetic task, or the dog/cat photos (:func:`load_dogcat_task`),
  and the minibatches both twins share;
* ``taps``     — one forward/backward keeping pre-activations, activations and dL/dz;
* ``stats``    — per layer (counted from 1 in tags and plots): weight and bias gradient
  norms, histograms of weight gradients, pre-activations and activations, the fraction
  of dead units; their TensorBoard tags;
* ``loops``    — minibatch SGD of each twin, statistics every ``log_every`` steps;
* ``study``    — every configuration, both twins, TensorBoard runs named
  ``scratch/<config>`` and ``torch/<config>`` (e.g. ``torch/sigmoid-d10-default``) with
  the same tags, so TensorBoard overlays them;
* ``profile``  — the depth profile: every layer's gradient norm on a log axis, both twins in one
  image per logged step, which TensorBoard's step slider moves through;
* ``report``   — the table and the plot; ``board`` — the TensorBoard run ``overview`` (what to
  look at, the table, the plot, a custom-scalars chart of every layer); ``overhead`` — what the
  logging costs.

On CUDA nothing leaves the device between logged steps: statistics and
histograms are computed on the device and copied to the host in one transfer
per logged step (:func:`nnlab.vanishing.stats.to_host`), so there is no host
synchronisation on the other steps.
"""

from nnlab.vanishing.config import (  # noqa: F401
    ACTIVATIONS, DEFAULT_CONFIGS, IMPLEMENTATIONS, INITS, MLPConfig, StudySettings, default_configs,
)
from nnlab.vanishing.overhead import measure_logging_overhead  # noqa: F401
from nnlab.vanishing.report import format_table, plot_grad_norms  # noqa: F401
from nnlab.vanishing.study import ConfigResult, run_config, run_study  # noqa: F401
from nnlab.vanishing.task import Task, load_dogcat_task, make_synthetic_task  # noqa: F401
