"""Reading images and masks into arrays, with errors that name the file.

JPEG and PNG are read with Pillow, rasters (TIFFs, and pictures beside a world file:
:func:`~pointseg.data.raster.is_raster`) with rasterio. Images come back as
``(H, W, bands)`` arrays in their own data type; masks as ``(H, W, 3)`` colours or
``(H, W)`` values, whichever the classes table needs. Palette (``P`` mode) masks are expanded to colours for a colour
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

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from pointseg.classes import MaskKind
from pointseg.data.raster import RASTER_SUFFIXES, is_raster, open_raster, read_mask_raster, read_raster
from pointseg.errors import DatasetError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"}) | RASTER_SUFFIXES
"""File endings recognised as images (and masks) when a folder is searched."""


_CORRUPT = (UnidentifiedImageError, OSError, SyntaxError, ValueError)


@contextmanager
def _reading(path: Path) -> Iterator[Image.Image]:
    """Open an image; turn every failure, while opening or decoding, into a :class:`DatasetError`."""
    try:
        with Image.open(path) as image:
            yield image
    except FileNotFoundError as err:
        raise DatasetError(f"file not found: {path}", fix="check the path") from err
    except Image.DecompressionBombError as err:
        raise DatasetError(
            f"{path} is too large to read whole: {err}", fix="cut the scene into tiles of at most ~100 megapixels"
        ) from err
    except _CORRUPT as err:  # not an image, or truncated or corrupt pixel data
        raise DatasetError(
            f"cannot read {path}: {err}", fix="replace the file with a valid JPEG, PNG or TIFF, or remove it with its pair"
        ) from err


def image_size(path: str | Path) -> tuple[int, int]:
    """``(height, width)`` of an image, read from its header only."""
    if is_raster(path):
        with open_raster(path) as source:
            return source.height, source.width
    with _reading(Path(path)) as image:
        width, height = image.size
    return height, width


def read_image(path: str | Path) -> np.ndarray:
    """Read an image as an ``(H, W, bands)`` array in its own data type.

    Palette and other indirect modes are expanded to RGB, grey stays one band. The alpha
    band of PNG, GIF and WebP pictures is dropped. Rasters are read by rasterio with all
    their data bands, in any data type (see :func:`~pointseg.data.raster.read_window`).

    Raises:
        DatasetError: The file is missing or not a readable image.
    """
    path = Path(path)
    if is_raster(path):
        return read_raster(path)
    with _reading(path) as image:
        picture = image.format in {"PNG", "GIF", "WEBP"}
        if image.mode == "LA":  # grey with alpha: one band, as grey alone
            image = image.convert("L")
        elif image.mode in {"P", "PA", "CMYK", "YCbCr"}:
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
        array = np.asarray(image)
    if array.ndim == 2:
        array = array[:, :, None]
    if picture and array.shape[2] == 4:
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
    if is_raster(path):
        return read_mask_raster(path, colours=kind == "colour")
    with _reading(path) as image:
        if kind == "colour" and image.mode in {"P", "PA", "RGBA", "CMYK", "YCbCr"}:
            image = image.convert("RGB")
        array = np.asarray(image)
    return np.ascontiguousarray(array)
