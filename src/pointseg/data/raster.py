"""GeoTIFFs (and any raster GDAL reads) through rasterio: windows, bands, nodata, georeferenced class maps.

The rest of pointseg works on ``(H, W, bands)`` arrays; this module is where rasters
enter and leave. A class map is written as a tiled, compressed single-band ``uint8``
GeoTIFF with the source's CRS and transform, the classes' colours as its colour table
and :data:`NODATA` where the source had no data.

Example:
    >>> with open_raster("scene.tif") as source:  # doctest: +SKIP
    ...     pixels = read_window(source, Window(0, 0, 256, 256))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.windows import Window as RioWindow

from pointseg.classes import ClassTable
from pointseg.errors import DatasetError
from pointseg.tiling import Window

RASTER_SUFFIXES = frozenset({".tif", ".tiff"})
NODATA = 255
"""Value of the class map where the source has no data (classes are 0..254)."""


def is_raster(path: str | Path) -> bool:
    """Whether ``path`` is read as a georeferenced raster (GeoTIFF) rather than a picture."""
    return Path(path).suffix.lower() in RASTER_SUFFIXES


@contextmanager
def open_raster(path: str | Path) -> Iterator[rasterio.DatasetReader]:
    """Open a raster for reading.

    Raises:
        DatasetError: Missing or unreadable file.
    """
    try:
        with rasterio.open(path) as source:
            yield source
    except RasterioIOError as err:
        raise DatasetError(f"cannot read {path}: {err}", fix="give a GeoTIFF (or another raster GDAL reads)") from err


def to_rasterio(window: Window) -> RioWindow:
    """The rasterio window of a :class:`~pointseg.tiling.Window`."""
    return RioWindow(window.col, window.row, window.width, window.height)


def read_window(source: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """The ``(H, W, bands)`` pixels of ``window``."""
    return np.moveaxis(source.read(window=to_rasterio(window)), 0, -1)


def valid_mask(source: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """``(H, W)`` booleans: True where any band has data (GDAL's dataset mask)."""
    return source.dataset_mask(window=to_rasterio(window)) > 0


def class_map_profile(source: rasterio.DatasetReader, count: int = 1) -> dict:
    """Creation options of an output aligned with ``source``: ``count`` ``uint8`` bands, tiled, compressed."""
    return {
        "driver": "GTiff",
        "width": source.width,
        "height": source.height,
        "count": count,
        "dtype": "uint8",
        "crs": source.crs,
        "transform": source.transform,
        "nodata": NODATA,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
    }


def colour_table(classes: ClassTable) -> dict[int, tuple[int, int, int, int]]:
    """GDAL colour table of a class map: each class's colour, opaque."""
    return {index: (*colour, 255) for index, colour in enumerate(classes.colours)}
