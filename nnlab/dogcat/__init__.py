"""Dog/cat classifier on 3x100x100 photos: data pipeline (``nnlab.dogcat.data``) and training.

The data API is re-exported here: ``from nnlab.dogcat import load_dogcat``.
"""

from .data import (  # noqa: F401
    ACCEPTED_LAYOUTS,
    CAT,
    DEFAULT_NORMALIZATION,
    DOG,
    SHARED_SAMPLE,
    DataLayoutError,
    DogCatData,
    Normalization,
    UnreadableImageError,
    decode_image,
    decode_many,
    default_cache_dir,
    find_images,
    load_dogcat,
    resolve_data_root,
    stratified_split,
    synthetic_dogcat,
)
