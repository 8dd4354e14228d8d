"""What every CUDA test shares: the marker that skips it without a CUDA device, and the photos it trains on."""

import numpy as np
import pytest
import torch

#: Side of the photos the CUDA tests train on: real photos, small enough for float64 lockstep in seconds.
SIZE = 32

NO_CUDA = (f"needs a CUDA device: torch {torch.__version__} sees none (torch.cuda.is_available() is False); "
           "`make gpu-check` runs these tests on a GPU machine")

#: ``pytestmark = CUDA`` in every module of this folder: selected by ``-m cuda``, skipped with the reason elsewhere.
CUDA = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)]


def photos_of(root, cache_dir, per_class: int):
    """The first ``per_class`` cats and dogs of a photo folder, decoded at SIZE px: an ArrayData."""
    from nnlab.dogcat.data import ArrayData, load_dogcat

    data = load_dogcat(root, size=SIZE, cache_dir=cache_dir, progress=False)
    labels = np.asarray(data.labels)
    pick = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in (0, 1)]))
    return ArrayData(np.ascontiguousarray(data.images[pick]), labels[pick], f"{len(pick)} photos of {root}")


def run_config(logdir, **kw):
    """A quiet CUDA run on the SIZE-px photos: float64 unless said, no progress bars."""
    from nnlab.dogcat.config import TrainConfig

    base = dict(device="cuda", dtype="float64", epochs=1, batch_size=32, image_size=SIZE, logdir=str(logdir),
                tensorboard=False, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def quiet(msg):
    pass
