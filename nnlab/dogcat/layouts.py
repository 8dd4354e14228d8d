"""Finding the labelled photos in the folder layouts people download.

Three layouts are recognised, label dog = 1, cat = 0:

* Kaggle "Dogs vs. Cats": one flat folder of ``cat.<N>.jpg`` / ``dog.<N>.jpg``
  (the label is the file-name prefix); the folder that holds ``train/`` works too.
* Microsoft PetImages: ``PetImages/Cat/*.jpg`` and ``PetImages/Dog/*.jpg``; either
  ``PetImages`` itself or the folder that holds it.
* Class folders: ``<root>/cat/`` and ``<root>/dog/`` in any case (``Cat``, ``CATS``...),
  searched recursively.

Files are chosen by extension only (``Thumbs.db``, text files and hidden files such as
macOS ``._cat.1.jpg`` are not images); whether an image is readable is decided later,
when it is decoded. An entry that is not a folder counts as a file here, so a dangling
symlink, a symlink loop or a FIFO named like a photo is found, then skipped and counted
with the unreadable files (the scan itself never fails on one); symlinked folders are
not followed.
"""

from __future__ import annotations

import os
from pathlib import Path

DOG, CAT = 1, 0

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

ACCEPTED_LAYOUTS = (
    "Accepted layouts (label dog = 1, cat = 0):\n"
    "  1. Kaggle 'Dogs vs. Cats': one folder of cat.<N>.jpg and dog.<N>.jpg files, e.g. train/cat.123.jpg "
    "(the folder that holds train/ works too)\n"
    "  2. Microsoft PetImages: PetImages/Cat/*.jpg and PetImages/Dog/*.jpg "
    "(pass PetImages or the folder that holds it)\n"
    "  3. Class folders: <root>/cat/ and <root>/dog/, any case (Cat, DOGS, ...), images anywhere inside"
)

_CLASS_FOLDER_NAMES = {"cat": CAT, "cats": CAT, "dog": DOG, "dogs": DOG}
_KAGGLE_PREFIXES = {"cat.": CAT, "dog.": DOG}


class DataLayoutError(ValueError):
    """The data folder is missing, empty, holds one class only, or matches no accepted layout."""


def is_image_name(name: str) -> bool:
    """True for a visible file whose extension is an image format (``Thumbs.db`` is not)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def images_under(folder: str) -> list[str]:
    """Every visible image file below ``folder`` (hidden folders skipped, symlinked folders not followed)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        found.extend(os.path.join(dirpath, f) for f in filenames if is_image_name(f))
    return found


def _is_dir(entry: os.DirEntry) -> bool:
    """``entry.is_dir()``, False for a symlink loop (which raises ELOOP there)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _class_folders(folder: str) -> dict[int, list[str]]:
    folders: dict[int, list[str]] = {}
    for entry in os.scandir(folder):
        label = _CLASS_FOLDER_NAMES.get(entry.name.lower())
        if label is not None and _is_dir(entry):
            folders.setdefault(label, []).append(entry.path)
    return {label: sorted(dirs) for label, dirs in folders.items()}


def _kaggle_files(folder: str) -> list[tuple[str, int]]:
    items = []
    for entry in os.scandir(folder):
        name = entry.name
        label = _KAGGLE_PREFIXES.get(name[:4].lower())
        if label is not None and is_image_name(name) and not _is_dir(entry):
            items.append((entry.path, label))
    return items


def _describe(folder: Path, limit: int = 8) -> str:
    try:
        names = sorted(os.listdir(folder))
    except OSError as error:
        return f"could not list it ({error})"
    if not names:
        return "it is empty"
    shown = ", ".join(n + ("/" if (folder / n).is_dir() else "") for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"it holds {len(names)} entries: {shown}{more}"


def _class_names(labels: set[int]) -> str:
    return " and ".join(name for name, label in (("cats", CAT), ("dogs", DOG)) if label in labels) or "no images"


def scan_layout(root, both_classes: bool = True) -> tuple[str, list[tuple[str, int]]]:
    """``detect_layout`` with plain string paths (what the cache hashes; no pathlib cost per file).

    ``both_classes=False`` accepts a folder of one class (evaluating a model on cats only).
    """
    root = Path(root).expanduser()
    if not root.exists():
        raise DataLayoutError(f"data folder {root} does not exist.\n{ACCEPTED_LAYOUTS}")
    if not root.is_dir():
        raise DataLayoutError(f"data path {root} is a file, not a folder.\n{ACCEPTED_LAYOUTS}")

    folder = str(root)
    if os.path.isdir(os.path.join(folder, "PetImages")):
        folder = os.path.join(folder, "PetImages")
    class_folders = _class_folders(folder)
    if class_folders:
        layout = "PetImages" if os.path.basename(folder) == "PetImages" else "class folders"
        items = [(p, label) for label, dirs in class_folders.items() for d in dirs for p in images_under(d)]
        where = ", ".join(f"{os.path.basename(d)}/" for dirs in class_folders.values() for d in dirs)
    else:
        layout = "Kaggle"
        items = _kaggle_files(folder)
        if not items and os.path.isdir(os.path.join(folder, "train")):
            folder = os.path.join(folder, "train")
            items = _kaggle_files(folder)
        where = f"cat.*/dog.* files in {folder}"

    labels = {label for _, label in items}
    if not items:
        raise DataLayoutError(
            f"no labelled images found in {root}: {_describe(Path(folder))}.\n{ACCEPTED_LAYOUTS}"
        )
    if len(labels) < 2 and both_classes:
        raise DataLayoutError(
            f"only one class found in {root} ({len(items)} images of {_class_names(labels)} in {where}); "
            f"a classifier needs both cats and dogs.\n{ACCEPTED_LAYOUTS}"
        )
    items.sort()
    return layout, items


def detect_layout(root) -> tuple[str, list[tuple[Path, int]]]:
    """Return ``(layout name, [(path, label), ...])`` for the photos under ``root``, sorted by path.

    Raises DataLayoutError (naming the accepted layouts and what was found) when ``root``
    does not exist, is not a folder, holds no labelled images, or holds only one class.
    """
    layout, items = scan_layout(root)
    return layout, [(Path(p), label) for p, label in items]


def find_images(root) -> list[tuple[Path, int]]:
    """``[(path, label), ...]`` sorted by path, label dog = 1, cat = 0; see ``detect_layout``."""
    return detect_layout(root)[1]
