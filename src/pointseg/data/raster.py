"""GeoTIFFs (and any raster GDAL reads) through rasterio: windows, bands, nodata, georeferenced class maps.

The rest of pointseg works on ``(H, W, bands)`` arrays; this module is where rasters
enter and leave. An alpha band is a raster's mask, not one of its bands (GDAL reads it as
the dataset mask), and a one-band raster with a colour table is read as the colours of
its palette, as a palette picture is. A class map is written as a tiled, compressed
single-band GeoTIFF with the source's CRS and transform (or ground control points), each
class as its index or, for a ``name,value`` classes table, its value (:class:`ClassCoding`),
the classes' colours as its colour table and a nodata value (:data:`NODATA` in ``uint8``)
where the source had no data.

Example:
    >>> with open_raster("scene.tif") as source:  # doctest: +SKIP
    ...     pixels = read_window(source, Window(0, 0, 256, 256))
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import ColorInterp, MaskFlags
from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
from rasterio.windows import Window as RioWindow

from pointseg.classes import ClassTable
from pointseg.errors import DatasetError
from pointseg.tiling import Window

RASTER_SUFFIXES = frozenset({".tif", ".tiff", ".jp2", ".vrt"})
"""Endings of files read as rasters whatever lies beside them: GeoTIFF, JPEG 2000, GDAL virtual raster."""
STRIP_ROWS = 1024
"""Rows of the strips a whole raster is read in, where it is read whole (statistics, nodata maps, checks)."""
NODATA = 255
"""Value of the class map where the source has no data (classes are 0..254)."""


def is_raster(path: str | Path) -> bool:
    """Whether ``path`` is read as a raster (by rasterio) rather than a picture (by Pillow).

    A raster is a TIFF (GeoTIFF), a JPEG 2000, a GDAL virtual raster (``.vrt``: a mosaic
    of tiles, a band stack...), or a picture (JPEG, PNG...) that GDAL finds georeferenced:
    beside a world file (``scene.jgw``, ``scene.jpgw`` or ``scene.wld`` for ``scene.jpg``),
    or with an ``scene.jpg.aux.xml`` that holds a geotransform. Its CRS, if any, comes from
    the ``.aux.xml`` (a world file has none); its class map is then a GeoTIFF.

    >>> is_raster("scene.TIF"), is_raster("photo.png")  # photo.png has no world file here
    (True, False)
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in RASTER_SUFFIXES:
        return True
    if not suffix:
        return False
    stems = {f".{suffix[1]}{suffix[-1]}w", f"{suffix}w", ".wld"}  # GDAL's world file names, in either case
    if any(path.with_suffix(ending).is_file() for stem in stems for ending in (stem, stem.upper())):
        return True
    aux = path.with_name(f"{path.name}.aux.xml")
    return aux.is_file() and "<GeoTransform>" in aux.read_text(errors="replace")


@contextmanager
def open_raster(path: str | Path) -> Iterator[rasterio.DatasetReader]:
    """Open a raster for reading (a TIFF without georeference is read as it is).

    Raises:
        DatasetError: Missing or unreadable file.
    """
    try:
        with warnings.catch_warnings():  # around the opening alone: it warns there, and a generator may hold the file
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            source = rasterio.open(path)
    except RasterioIOError as err:
        raise DatasetError(f"cannot read {path}: {err}", fix="give a GeoTIFF (or another raster GDAL reads)") from err
    with source:
        try:
            yield source
        except RasterioIOError as err:  # GDAL's own reason ("Read failed") is the cause: a missing tile, a truncated file
            reason = f"{err}" if err.__cause__ is None else f"{err.__cause__}"
            raise DatasetError(
                f"cannot read the pixels of {path}: {reason}",
                fix="repair or replace the file (a truncated copy or download?), or remove it with its pair",
            ) from err


def read_raster(path: str | Path) -> np.ndarray:
    """The bands of a raster as ``(H, W, bands)``, NaN where it has no data (see :func:`read_data`)."""
    with open_raster(path) as source:
        return np.ascontiguousarray(read_data(source, Window(0, 0, source.height, source.width)))


def data_bands(source: rasterio.DatasetReader) -> tuple[int, ...]:
    """The (1-based) indexes of the bands that hold data: all but alpha, which is the raster's mask.

    An RGBA orthophoto (as OpenDroneMap and QGIS write them) has three bands of data.

    Raises:
        DatasetError: Complex values (a radar SLC), which no network here takes.
    """
    if source.dtypes[0].startswith("complex"):
        raise DatasetError(
            f"{source.name} holds complex values ({source.dtypes[0]}: a radar SLC?), which no network here takes",
            fix="convert it to amplitude or intensity first (e.g. gdal_calc.py --calc='abs(A)')",
        )
    return tuple(index for index, kind in enumerate(source.colorinterp, 1) if kind != ColorInterp.alpha)


def alpha_note(source: rasterio.DatasetReader) -> str:
    """Words for an error about a raster's bands where some are alpha, so read as its mask; else ``""``.

    GDAL flags the 4th band of a 4-band byte GeoTIFF as alpha unless told otherwise, so that
    an RGB + near-infrared scene may lose its infrared band to the mask.
    """
    alpha = [index for index, kind in enumerate(source.colorinterp, 1) if kind == ColorInterp.alpha]
    if not alpha:
        return ""
    listed = ", ".join(map(str, alpha))
    return (
        f" (band {listed} of {source.count} is flagged as alpha, so read as the mask; if it holds data, "
        f"`gdal_edit.py -colorinterp_{alpha[0]} undefined FILE` makes it a band)"
    )


def bands_note(image: object) -> str:
    """The :func:`alpha_note` of an image's raster (a :class:`RasterPixels`), for an error about its bands; else ``""``."""
    return image.alpha_note if isinstance(image, RasterPixels) else ""


def palette(source: rasterio.DatasetReader) -> np.ndarray | None:
    """``(256, 3)`` colours of a one-band raster's colour table (index to RGB), or None where it has none."""
    if len(data_bands(source)) != 1 or source.dtypes[0] != "uint8":
        return None
    try:
        table = source.colormap(1)
    except ValueError:  # no colour table
        return None
    colours = np.zeros((256, 3), np.uint8)
    for index, colour in table.items():
        colours[index] = colour[:3]
    return colours


def band_count(source: rasterio.DatasetReader) -> int:
    """How many bands :func:`read_window` gives: the data bands, or 3 for a palette's colours."""
    return 3 if palette(source) is not None else len(data_bands(source))


class RasterPixels:
    """The pixels of a raster as an ``(H, W, bands)`` array whose windows are read on demand.

    Training takes random crops (``pixels[rows, cols]``) straight from the file, so a few
    large GeoTIFFs train without their pixels being held in memory; ``np.asarray(pixels)``
    reads it whole where a whole image is needed (validation, superpixels). Every read
    opens the file anew (a fraction of a millisecond): no handle is shared by the
    processes of data loading workers, and none stays open.

    >>> pixels = RasterPixels("scene.tif")  # doctest: +SKIP
    >>> pixels.shape, pixels[0:256, 512:768].shape  # doctest: +SKIP
    ((20000, 20000, 4), (256, 256, 4))
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        with open_raster(self.path) as source:
            self.shape = (source.height, source.width, band_count(source))
            self.alpha_note = alpha_note(source)
            self.dtype = np.dtype(source.dtypes[0])

    ndim = 3

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        """The ``(h, w, bands)`` pixels of a window given as two slices (steps of 1)."""
        (top, bottom, _), (left, right, _) = (part.indices(size) for part, size in zip(key, self.shape))
        with open_raster(self.path) as source:
            return read_window(source, Window(top, left, max(bottom - top, 0), max(right - left, 0)))

    def check(self) -> None:
        """Read every pixel once, strip by strip: a truncated or corrupt file fails now, not when first used.

        Raises:
            DatasetError: A pixel cannot be read, with GDAL's reason.
        """
        for _ in self.strips():
            pass

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        whole = self[:, :]
        return whole if dtype is None else whole.astype(dtype)

    def strips(self, rows: int = STRIP_ROWS) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        """``(row, pixels, valid)`` of consecutive strips of ``rows`` rows, top to bottom.

        ``valid`` is True where the raster has data (GDAL's dataset mask), or None where it has data everywhere.
        """
        with open_raster(self.path) as source:
            everywhere = not has_nodata(source)
            for top in range(0, self.shape[0], rows):
                window = Window(top, 0, min(rows, self.shape[0] - top), self.shape[1])
                yield top, read_window(source, window), None if everywhere else valid_mask(source, window)


def read_mask_raster(path: str | Path, colours: bool) -> np.ndarray:
    """A mask raster: band 1 ``(H, W)`` as values, or ``(H, W, 3)`` colours (its colour table, or bands 1-3)."""
    with open_raster(path) as source:
        bands = data_bands(source)
        if not colours:
            if len(bands) > 1:
                raise DatasetError(
                    f"{path} has {len(bands)} bands, but the classes table gives values: an index mask has one band",
                    fix="give the classes as name,r,g,b for a colour mask, or write the mask's class values as one band",
                )
            return source.read(bands[0])
        if len(bands) >= 3:
            return np.ascontiguousarray(np.moveaxis(source.read(bands[:3]), 0, -1))
        colours_of = palette(source)
        if colours_of is None:
            raise DatasetError(
                f"{path} is a one-band mask without a colour table, but the classes table gives colours",
                fix="give the classes as name,value for index masks",
            )
        return colours_of[source.read(bands[0])]


def nodata_mask(path: str | Path) -> np.ndarray | None:
    """``(H, W)`` True where a raster has no data (see :func:`nodata_in`), or None when it has data everywhere.

    Read in strips of :data:`STRIP_ROWS` rows, so that a float raster's bands (searched for NaN) are never held whole.
    """
    with open_raster(path) as source:
        empty = np.zeros((source.height, source.width), bool)
        for top in range(0, source.height, STRIP_ROWS):
            window = Window(top, 0, min(STRIP_ROWS, source.height - top), source.width)
            empty[top : top + window.height] = nodata_in(source, window)
    return empty if empty.any() else None


def check_same_grid(image: str | Path, mask: str | Path) -> None:
    """Fail unless two rasters share size, transform and CRS: a misaligned mask would label the wrong pixels.

    Transforms that differ by rounding (``Affine.almost_equals``) are the same grid; a mask
    without georeference (no CRS, identity transform) is checked by its size alone, as a PNG
    mask is, and one without a CRS (beside a world file) by its size and transform.

    Raises:
        DatasetError: The grids differ; the message says how.
    """
    with open_raster(image) as a, open_raster(mask) as b:
        checks = [("size", a.shape, b.shape)]
        if b.crs is not None or not b.transform.is_identity:  # a mask without georeference is matched by size alone
            checks.append(("transform", a.transform, b.transform))
        if b.crs is not None:
            checks.append(("CRS", a.crs, b.crs))
        for what, first, second in checks:
            if first != second and not (what == "transform" and first.almost_equals(second)):
                raise DatasetError(
                    f"{mask} is not on the grid of its image {image}: {what} {second} against {first}",
                    fix="resample the mask onto the image's grid (e.g. gdalwarp -te/-tr/-t_srs from the image)",
                )


def to_rasterio(window: Window) -> RioWindow:
    """The rasterio window of a :class:`~pointseg.tiling.Window`."""
    return RioWindow(window.col, window.row, window.width, window.height)


def read_window(source: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """The ``(H, W, bands)`` pixels of ``window``, in the raster's own data type: its :func:`data_bands`, or the colours of
    its :func:`palette`.

    A pixel is without data where every band is (GDAL's dataset mask: :func:`nodata_in`); an
    integer raster keeps its values there, for :func:`read_data` or a nodata map to deal
    with. In a floating-point raster, a band without data where the others have some (its
    own nodata, -9999 at a swath's edge) is NaN in that band alone, by the band's mask, so
    that its nodata value reaches no statistic and no network
    (:meth:`~pointseg.data.dataset.BandStats.normalise` gives NaN the band's mean); an integer
    band equal to the nodata value where the others are not keeps it, as GDAL reads such a
    pixel (dark water at 0 in an orthophoto with nodata 0 is data).
    """
    bands = data_bands(source)
    area = to_rasterio(window)
    pixels = np.moveaxis(source.read(bands, window=area), 0, -1)
    colours = palette(source)
    if colours is not None:
        return colours[pixels[..., 0]]
    if has_nodata(source) and np.issubdtype(pixels.dtype, np.floating):
        pixels[np.moveaxis(source.read_masks(bands, window=area) == 0, 0, -1)] = np.nan
    return pixels


def read_data(source: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """The pixels of ``window`` as a network takes them: :func:`read_window`'s, NaN where the raster has no data.

    A raster that may lack data comes as floats (``float32``, or ``float64`` for 8-byte
    types); one with data everywhere in its own type.
    """
    pixels = read_window(source, window)
    if not has_nodata(source):
        return pixels
    holes = (
        pixels
        if np.issubdtype(pixels.dtype, np.floating)
        else pixels.astype(np.float32 if pixels.dtype.itemsize < 8 else np.float64)
    )
    holes[~valid_mask(source, window)] = np.nan
    return holes


def has_nodata(source: rasterio.DatasetReader) -> bool:
    """Whether a raster may lack data somewhere: a nodata value, a mask band or alpha."""
    return not all(MaskFlags.all_valid in flags for flags in source.mask_flag_enums)


def valid_mask(source: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """``(H, W)`` booleans: True where any band has data (GDAL's dataset mask)."""
    return source.dataset_mask(window=to_rasterio(window)) > 0


def nodata_in(source: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """``(H, W)`` booleans: True where the raster has no data in ``window``.

    No data is where GDAL's dataset mask says so (a nodata value, a mask band, alpha) and,
    in a floating-point raster, where every band is NaN, declared as nodata or not (as
    :class:`~pointseg.data.dataset.BandStats` takes it).
    """
    empty = ~valid_mask(source, window) if has_nodata(source) else np.zeros((window.height, window.width), bool)
    if np.issubdtype(np.dtype(source.dtypes[0]), np.floating):
        empty |= np.isnan(source.read(data_bands(source), window=to_rasterio(window))).all(axis=0)
    return empty


@dataclass(frozen=True)
class ClassCoding:
    """What a class map holds: each class's value, the map's data type and its nodata value.

    A ``name,value`` classes table gives its own values, so that a map comes back in the
    masks' coding (WorldCover's 10, 20, 30...) and can be compared with them or serve as
    one; a colour table gives the class indices. ``uint8`` with :data:`NODATA` 255 where
    the values fit in 0-254, else ``uint16`` with 65535 where they fit in 0-65534, else
    ``int32`` with its lowest value.

    >>> coding = ClassCoding.of(ClassTable.from_rows([("tree", 10), ("water", 80)]))
    >>> coding.values.tolist(), coding.dtype, coding.nodata
    ([10, 80], 'uint8', 255)
    >>> ClassCoding.of(ClassTable.from_rows([("a", 0), ("b", 255)])).dtype
    'uint16'
    """

    values: np.ndarray
    dtype: str
    nodata: int

    @classmethod
    def of(cls, classes: ClassTable) -> ClassCoding:
        """The coding of a class map of ``classes``."""
        values = np.asarray(classes.keys if classes.kind == "value" else range(classes.num_classes), dtype=np.int64)
        for dtype, nodata in (("uint8", NODATA), ("uint16", 65535)):
            if values.min() >= 0 and values.max() < nodata:
                return cls(values, dtype, nodata)
        return cls(values, "int32", int(np.iinfo(np.int32).min))

    def colour_table(self, classes: ClassTable) -> dict[int, tuple[int, int, int, int]] | None:
        """GDAL colour table of the map: each class's colour at its value, opaque (None for ``int32``: GDAL has none)."""
        if self.dtype == "int32":
            return None
        return {int(value): (*colour, 255) for value, colour in zip(self.values, classes.colours)}


def class_map_profile(source: rasterio.DatasetReader, count: int = 1, dtype: str = "uint8", nodata: int = NODATA) -> dict:
    """Creation options of an output aligned with ``source``: ``count`` bands of ``dtype``, tiled, compressed.

    GCP-georeferenced sources (radar and level-1 scenes) have no transform:
    :func:`copy_georeference` gives the output their ground control points.
    """
    return {
        "driver": "GTiff",
        "width": source.width,
        "height": source.height,
        "count": count,
        "dtype": dtype,
        "crs": source.crs,
        "transform": source.transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "BIGTIFF": "IF_SAFER",
    }


def create_raster(path: str | Path, profile: dict) -> rasterio.io.DatasetWriter:
    """Open ``path`` for writing with ``profile``: an output of a source without georeference has none, unwarned."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(path, "w", **profile)


def copy_georeference(source: rasterio.DatasetReader, target: rasterio.io.DatasetWriter) -> None:
    """Give ``target`` the ground control points and RPCs of ``source``, where it has them (the transform goes in the profile)."""
    gcps, crs = source.gcps
    if gcps:
        target.gcps = (gcps, crs)
    if source.rpcs is not None:
        target.rpcs = source.rpcs
