"""Reading images and masks into arrays, with errors that name the file.

JPEG and PNG are read with Pillow. Images come back as ``(H, W, bands)`` arrays in
their own data type; masks as ``(H, W, 3)`` colours or ``(H, W)`` values, whichever the
classes table needs. Palette (``P`` mode) masks are expanded to colours for a colour
table and kept as raw indices for a value table.

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> from PIL import Image
    >>> path = Path(tempfile.mkdtemp()) / "a.png"
    >>> Image.new("RGB", (4, 3), (10, 20, 30)).save(path)
    >>> read_image(path).shape
    (3, 4, 3)
    >>> image_size(path)
    (3, 4)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pointseg.classes import MaskKind
from pointseg.errors import DatasetError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp"})
"""File endings recognised as images (and masks) when a folder is searched."""


def _open(path: Path) -> Image.Image:
    try:
        return Image.open(path)
    except FileNotFoundError as err:
        raise DatasetError(f"file not found: {path}", fix="check the path") from err
    except (UnidentifiedImageError, OSError) as err:
        raise DatasetError(
            f"cannot read {path}: {err}", fix="replace the file with a valid JPEG, PNG or TIFF, or remove it with its pair"
        ) from err


def image_size(path: str | Path) -> tuple[int, int]:
    """``(height, width)`` of an image, read from its header only."""
    with _open(Path(path)) as image:
        width, height = image.size
    return height, width


def _load(path: Path, image: Image.Image) -> np.ndarray:
    try:
        return np.asarray(image)
    except (OSError, SyntaxError, ValueError) as err:  # truncated or corrupt pixel data
        raise DatasetError(f"cannot decode {path}: {err}", fix="replace the corrupt file or remove it with its pair") from err


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as an ``(H, W, bands)`` array in its own data type.

    Raises:
        DatasetError: The file is missing or not a readable image.
    """
    path = Path(path)
    with _open(path) as image:
        if image.mode in {"P", "PA", "CMYK", "YCbCr", "LA"}:
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
        array = _load(path, image)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 4:  # drop the alpha band of RGBA pictures
        array = array[:, :, :3]
    return np.ascontiguousarray(array)


def read_mask(path: str | Path, kind: MaskKind) -> np.ndarray:
    """Read a mask as the classes table needs it.

    Args:
        path: The mask file.
        kind: ``"colour"`` returns ``(H, W, 3)`` colours (palette masks expanded);
            ``"value"`` returns ``(H, W)`` values (palette masks as raw indices).

    Raises:
        DatasetError: The file is missing or not a readable image.
    """
    path = Path(path)
    with _open(path) as image:
        if kind == "colour" and image.mode not in {"RGB"}:
            image = image.convert("RGB") if image.mode in {"P", "PA", "RGBA", "CMYK", "YCbCr"} else image
        array = _load(path, image)
    return np.ascontiguousarray(array)
