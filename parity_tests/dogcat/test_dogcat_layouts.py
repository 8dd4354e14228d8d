"""Finding labelled photos: the Kaggle, PetImages and class-folder layouts, and folders that fit none."""

from pathlib import Path

import pytest

from nnlab.dogcat import data as dogcat
from parity_tests.dogcat.photos import make_kaggle, write_photo


def relative(items, root: Path) -> list[tuple[str, int]]:
    return [(p.relative_to(root).as_posix(), label) for p, label in items]


def test_kaggle_flat_layout_labels_sorted_and_non_images_ignored(tmp_path):
    write_photo(tmp_path / "cat.1.jpg")
    write_photo(tmp_path / "cat.10.JPG")
    write_photo(tmp_path / "dog.0.jpeg")
    write_photo(tmp_path / "Dog.2.png")
    (tmp_path / "Thumbs.db").write_bytes(b"\x00" * 64)
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "._cat.3.jpg").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    write_photo(tmp_path / "bird.0.jpg")
    layout, items = dogcat.detect_layout(tmp_path)
    assert layout == "Kaggle"
    assert relative(items, tmp_path) == [("Dog.2.png", 1), ("cat.1.jpg", 0), ("cat.10.JPG", 0), ("dog.0.jpeg", 1)]
    assert dogcat.find_images(tmp_path) == items


def test_kaggle_folder_holding_train_is_accepted(tmp_path):
    make_kaggle(tmp_path / "train", 2, 2)
    write_photo(tmp_path / "test1" / "1.jpg")
    items = dogcat.find_images(tmp_path)
    assert relative(items, tmp_path) == [
        ("train/cat.0.jpg", 0), ("train/cat.1.jpg", 0), ("train/dog.0.jpg", 1), ("train/dog.1.jpg", 1),
    ]


@pytest.mark.parametrize("cat_name, dog_name", [("cat", "dog"), ("Cat", "Dog"), ("CATS", "dogs"), ("cAt", "DOG")])
def test_class_folders_any_case(tmp_path, cat_name, dog_name):
    write_photo(tmp_path / cat_name / "a.jpg")
    write_photo(tmp_path / cat_name / "b.png")
    write_photo(tmp_path / dog_name / "nested" / "c.jpg")
    (tmp_path / dog_name / "Thumbs.db").write_bytes(b"")
    write_photo(tmp_path / "other" / "d.jpg")
    layout, items = dogcat.detect_layout(tmp_path)
    assert layout == "class folders"
    assert sorted(relative(items, tmp_path)) == sorted(
        [(f"{cat_name}/a.jpg", 0), (f"{cat_name}/b.png", 0), (f"{dog_name}/nested/c.jpg", 1)]
    )
    assert [str(p) for p, _ in items] == sorted(str(p) for p, _ in items)


def test_petimages_layout_from_its_parent_or_itself(tmp_path):
    pet = tmp_path / "PetImages"
    for i in range(2):
        write_photo(pet / "Cat" / f"{i}.jpg", seed=i)
        write_photo(pet / "Dog" / f"{i}.jpg", seed=10 + i)
    (pet / "Cat" / "Thumbs.db").write_bytes(b"\x00" * 32)
    for root in (tmp_path, pet):
        layout, items = dogcat.detect_layout(root)
        assert layout == "PetImages"
        assert relative(items, pet) == [("Cat/0.jpg", 0), ("Cat/1.jpg", 0), ("Dog/0.jpg", 1), ("Dog/1.jpg", 1)]


def _only_cats_kaggle(root):
    make_kaggle(root, 2, 0)


def _only_dog_folder(root):
    write_photo(root / "PetImages" / "Dog" / "0.jpg")
    (root / "PetImages" / "Cat").mkdir()


def _unlabelled_images(root):
    write_photo(root / "1.jpg")
    write_photo(root / "2.jpg")


def _a_file(root):
    write_photo(root / "cat.1.jpg")
    return root / "cat.1.jpg"


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda root: root / "missing", "does not exist"),
        (lambda root: None, "it is empty"),
        (_only_cats_kaggle, "only one class found"),
        (_only_dog_folder, "only one class found"),
        (_unlabelled_images, "no labelled images"),
        (_a_file, "is a file"),
    ],
    ids=["missing", "empty", "only-cats", "only-dog-folder", "unlabelled", "file"],
)
def test_bad_data_folders_name_the_accepted_layouts(tmp_path, build, expected):
    root = build(tmp_path) or tmp_path
    with pytest.raises(dogcat.DataLayoutError) as info:
        dogcat.load_dogcat(root, cache_dir=tmp_path / "cache", progress=False)
    message = str(info.value)
    assert expected in message
    assert dogcat.ACCEPTED_LAYOUTS in message
    assert isinstance(info.value, ValueError)
