"""Find image/mask pairs under a dataset root.

Every folder named ``images`` that has a sibling folder ``masks`` is a source of pairs;
an image and a mask pair by file stem (``images/a.jpg`` with ``masks/a.png``). Each pair
gets a *key*: the image's path relative to the root, without ending, and with ``images/``
dropped (``tile_1/images/a.jpg`` -> ``tile_1/a``). Keys name images in point files and
reports.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> for folder in ("tile_1/images", "tile_1/masks"):
    ...     (root / folder).mkdir(parents=True)
    >>> Image.new("RGB", (8, 6)).save(root / "tile_1/images/a.jpg")
    >>> Image.new("RGB", (8, 6)).save(root / "tile_1/masks/a.png")
    >>> [pair.key for pair in discover_pairs(root)]
    ['tile_1/a']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pointseg.data.imagery import IMAGE_SUFFIXES, image_size
from pointseg.data.raster import open_raster
from pointseg.errors import DatasetError


@dataclass(frozen=True)
class ImagePair:
    """One image and its dense mask.

    Attributes:
        key: Stable name of the image within its dataset, e.g. ``tile_1/image_part_001``.
        image: Path of the image.
        mask: Path of the mask, or None for an image annotated by points only.
        size: ``(height, width)`` in pixels.
    """

    key: str
    image: Path
    mask: Path | None
    size: tuple[int, int]


def _by_stem(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
            if path.stem in files:
                raise DatasetError(
                    f"two files share the stem {path.stem!r} in {folder}: {files[path.stem].name} and {path.name}",
                    fix="keep one file per image name",
                )
            files[path.stem] = path
    return files


def _first_of(paths: list[Path]) -> str:
    return f"{paths[0]}" + (f" (and {len(paths) - 1} more)" if len(paths) > 1 else "")


def _check_mosaics(images: Sequence[Path]) -> None:
    """Fail where a virtual raster (``.vrt``) mosaics a file that is missing, or that is an image too (counted twice)."""
    by_file = {path.resolve(): path for path in images}
    for mosaic in (path for path in images if path.suffix.lower() == ".vrt"):
        with open_raster(mosaic.resolve()) as source:
            files = [Path(name) for name in source.files[1:] if not name.startswith("/vsi")]  # not remote ones
        if missing := [file for file in files if not file.is_file()]:
            raise DatasetError(
                f"{mosaic} mosaics {_first_of(missing)}, which is not there",
                fix="restore the tile, or rebuild the mosaic from the tiles there are (gdalbuildvrt)",
            )
        tiles = [by_file[file] for file in map(Path.resolve, files) if file in by_file]
        if tiles:
            raise DatasetError(
                f"{mosaic} mosaics {_first_of(tiles)}, which the search finds as images too: their pixels would count twice",
                fix="keep either the mosaic or its tiles among the images, e.g. the tiles in a folder of their own",
            )


def _image_folders(root: Path) -> list[Path]:
    """Every ``images`` folder under ``root``, symbolic links followed, each real folder searched once.

    A link to a folder already searched (an ancestor: a loop; another path to the same
    images) is not searched again, so no image is found twice through it.
    """
    searched: set[Path] = set()
    folders = []
    for parent, dirs, _ in os.walk(root, followlinks=True):
        dirs.sort()  # the first path to a folder is the one kept: the same on every run
        if (real := Path(parent).resolve()) in searched:
            dirs.clear()
            continue
        searched.add(real)
        if "images" in dirs:
            folders.append(Path(parent) / "images")
    return sorted(folders)


def _check_once(pairs: Sequence[ImagePair]) -> None:
    """Fail where two keys are one image file (a symbolic link to a file found under its own name too)."""
    first: dict[Path, ImagePair] = {}
    for pair in pairs:
        if (earlier := first.setdefault(pair.image.resolve(), pair)) is not pair:
            raise DatasetError(
                f"{earlier.image} and {pair.image} are the same file (a symbolic link): its pixels would count twice, "
                "maybe in training and in validation",
                fix="keep one path to each image under --data",
            )


def discover_pairs(root: str | Path, masks_required: bool = True) -> list[ImagePair]:
    """All image/mask pairs under ``root``, sorted by key, sizes checked.

    Args:
        root: The dataset root, searched recursively for ``images`` folders.
        masks_required: Whether every image needs a mask; without, an image with no mask
            (or no ``masks`` folder at all) is a pair whose mask is None (point annotations).

    Raises:
        DatasetError: The root is missing or holds no pair; a mask has no image; an image
            has no mask (where required); an image and its mask differ in size; a file is unreadable;
            a mosaic (``.vrt``) and its tiles are both images; one image file is found under two keys.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}", fix="pass --data an existing folder")
    images_in = {images_dir: _by_stem(images_dir) for images_dir in _image_folders(root)}
    _check_mosaics([path for images in images_in.values() for path in images.values()])
    pairs: list[ImagePair] = []
    for images_dir, images in images_in.items():
        masks_dir = images_dir.parent / "masks"
        if not masks_dir.is_dir() and masks_required:
            raise DatasetError(f"{images_dir} has no sibling folder 'masks'", fix=f"put the masks in {masks_dir}")
        masks = _by_stem(masks_dir) if masks_dir.is_dir() else {}
        if orphans := [masks[stem] for stem in sorted(set(masks) - set(images))]:
            raise DatasetError(
                f"mask without image: {_first_of(orphans)}",
                fix=f"add the image with the same name to {images_dir}, or remove the mask",
            )
        if masks_required and (missing := [images[stem] for stem in sorted(set(images) - set(masks))]):
            raise DatasetError(
                f"image without mask: {_first_of(missing)}", fix=f"add its mask (same name) to {masks_dir}, or remove the image"
            )
        prefix = images_dir.parent.relative_to(root)
        for stem, image_path in images.items():
            size, mask = image_size(image_path), masks.get(stem)
            if mask is not None and (mask_size := image_size(mask)) != size:
                raise DatasetError(
                    f"{mask} is {mask_size[1]}x{mask_size[0]} pixels but its image {image_path} is {size[1]}x{size[0]}",
                    fix="resample the mask to the image's grid (nearest neighbour) or fix the pair",
                )
            pairs.append(ImagePair(key=(prefix / stem).as_posix(), image=image_path, mask=mask, size=size))
    if not pairs:
        raise DatasetError(
            f"no images found under {root}",
            fix="lay the dataset out as <root>/.../images/NAME.jpg with masks in <root>/.../masks/NAME.png",
        )
    pairs.sort(key=lambda pair: pair.key)
    _check_once(pairs)
    return pairs


def list_images(root: str | Path) -> list[Path]:
    """Every image file under ``root`` (searched recursively), skipping ``masks`` folders.

    Raises:
        DatasetError: ``root`` is missing or holds no image, or a mosaic (``.vrt``) and its tiles.
    """
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DatasetError(f"input not found: {root}", fix="pass --input an image file or a folder of images")
    images = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and "masks" not in p.relative_to(root).parts
    )
    if not images:
        raise DatasetError(f"no images found under {root}", fix="pass a folder holding .jpg, .png or .tif images")
    _check_mosaics(images)
    return images
