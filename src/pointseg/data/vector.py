"""Point annotations as vector features: export simulated points, import points made in QGIS or in the field.

Export writes one point feature per labelled pixel, at the pixel's centre, with the
columns ``image``, ``row``, ``col`` and ``class`` (by name): in the CRS of the rasters
(GeoTIFFs; points of rasters in another CRS are reprojected to the first one's; a
picture beside a world file alone gives its map coordinates, in no named CRS), or for
plain pictures in pixel coordinates as QGIS lays out a picture without georeference
(x = column, y = minus the row), so that the points cover their picture there.

Import reads GeoPackage, GeoJSON, Shapefile (anything OGR reads) or a CSV of ``x``/``y``
or ``lon``/``lat`` columns, reprojects each point to each raster's CRS, maps it to a pixel
through the raster's transform and assigns it to the raster that contains it (or, where
its ``image`` field names one of the dataset's images, to that image: rasters may
overlap; a point added in QGIS, its field empty, is placed by its coordinates). Points
outside every image, points naming no image that lie on several plain pictures (pixel
coordinates, shared by all pictures), points of unknown classes, and pixels given two
different classes are counted, reported and skipped, never silently kept. On a picture, y
counts rows down from 0 either way: in negative numbers as QGIS does, or in positive ones
as images do. Points in a CRS never land on a plain picture (a longitude is no column)
unless the file's ``image`` field names it, as pointseg's own export of a dataset mixing
rasters and pictures does, or ``point_crs`` is :data:`PIXELS`.

Example:
    >>> write_vector_points(points, table, pairs, "points.gpkg")  # doctest: +SKIP
    >>> imported = read_vector_points("points.gpkg", table, pairs)  # doctest: +SKIP
    >>> imported.skipped  # doctest: +SKIP
    {'outside every image': 0, ..., 'pixel given two classes': 0}
"""

from __future__ import annotations

import functools
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from pyproj import CRS, Transformer
from rasterio.transform import Affine

from pointseg.classes import ClassTable
from pointseg.data.discover import ImagePair
from pointseg.data.masks import on_pixels_without_data
from pointseg.data.points import PointLabels, read_csv_records, require_fields
from pointseg.data.raster import is_raster, open_raster
from pointseg.errors import PointsError

VECTOR_DRIVERS = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".shp": "ESRI Shapefile", ".fgb": "FlatGeobuf"}
"""The OGR driver that writes point features, by file ending (formats QGIS opens and :func:`read_vector_points` reads back)."""


def vector_driver(path: str | Path) -> str:
    """The OGR driver writing point features to ``path``, by its ending; call it before long work to fail early.

    Raises:
        PointsError: ``path`` is a folder, or its ending is not one of :data:`VECTOR_DRIVERS`.
    """
    path = Path(path)
    if path.is_dir():
        raise PointsError(f"{path} is a folder, not a vector file", fix=f"give a file name, e.g. {path / 'points.gpkg'}")
    driver = VECTOR_DRIVERS.get(path.suffix.lower())
    if driver is None:
        raise PointsError(
            f"cannot write point features to {path}: unknown ending {path.suffix or '(none)'!r}",
            fix=f"end the file name with one of {', '.join(VECTOR_DRIVERS)}",
        )
    return driver


SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx")
"""The files beside a shapefile's ``.shp`` that belong to it."""

PIXELS = "pixels"
"""The ``point_crs`` saying that points are pixel coordinates of pictures, whatever CRS their file declares."""

PICTURE_TRANSFORM = Affine(1, 0, 0, 0, -1, 0)
"""Pixel to map coordinates of a picture without georeference, as QGIS shows it: x = column, y = minus the row."""


@dataclass(frozen=True)
class Georeference:
    """Where an image lies: its CRS and pixel-to-world transform, or pixel coordinates for a plain picture.

    A picture's transform is :data:`PICTURE_TRANSFORM`, the grid QGIS (and GDAL-based GIS) give an image without
    georeference: x = column, y = minus the row. A raster with a transform but no CRS (a
    picture beside a world file alone) lies at its map coordinates in a CRS nobody named.
    """

    crs: CRS | None
    transform: Affine
    picture: bool = False
    """True for an image without georeference, whose coordinates are pixels (:data:`PICTURE_TRANSFORM`)."""

    @classmethod
    def of(cls, pair: ImagePair) -> Georeference:
        """The georeference of a raster, or pixel coordinates (:data:`PICTURE_TRANSFORM`, no CRS) for a picture."""
        if is_raster(pair.image):
            with open_raster(pair.image) as source:
                if source.crs is not None or not source.transform.is_identity:
                    return cls(None if source.crs is None else CRS.from_user_input(source.crs), source.transform)
        return cls(None, PICTURE_TRANSFORM, picture=True)


def write_vector_points(
    points: PointLabels,
    table: ClassTable,
    pairs: Sequence[ImagePair],
    path: str | Path,
    extra: Mapping[str, np.ndarray] | None = None,
) -> Path:
    """Write ``points`` as point features (GeoPackage, GeoJSON, Shapefile or FlatGeobuf, by the file's ending).

    Their fields are ``image``, ``row``, ``col`` and ``class``, then those of ``extra``, one
    value per point (the ``entropy`` of suggestions, to sort them by in QGIS).

    Raises:
        PointsError: A folder or an unknown ending (see :func:`vector_driver`), a point of an image that is not among ``pairs``.
    """
    path = Path(path)
    driver = vector_driver(path)
    pairs_by_key = {pair.key: pair for pair in pairs}
    unknown = set(points.keys.tolist()) - set(pairs_by_key)
    if unknown:
        raise PointsError(f"points on images not in the dataset: {', '.join(sorted(unknown)[:3])}", fix="check --data")
    georeference = functools.cache(Georeference.of)  # each image opened once
    references = {key: georeference(pairs_by_key[key]) for key in dict.fromkeys(points.keys.tolist())}
    # the first raster's CRS even where no point lies on a raster: a file without one cannot be read back with the rasters
    target = next((crs for pair in pairs if (crs := georeference(pair).crs) is not None), None)
    xs, ys = np.empty(len(points)), np.empty(len(points))
    for key, reference in references.items():
        own = points.keys == key
        x, y = reference.transform @ (points.cols[own] + 0.5, points.rows[own] + 0.5)
        if target is not None and reference.crs is not None and reference.crs != target:
            x, y = Transformer.from_crs(reference.crs, target, always_xy=True).transform(x, y)
        xs[own], ys[own] = x, y
    fields = ["image", "row", "col", "class"]
    data = [points.keys.astype(object), points.rows.astype(np.int64), points.cols.astype(np.int64)]
    data.append(np.array([table.names[c] for c in points.classes.tolist()], dtype=object))
    for name, values in (extra or {}).items():
        fields.append(name)
        data.append(np.asarray(values))
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in [path] + ([path.with_suffix(ending) for ending in SHAPEFILE_SIDECARS] if driver == "ESRI Shapefile" else []):
        stale.unlink(missing_ok=True)  # an earlier shapefile's .prj would give these points its CRS
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'crs' was not provided")  # pictures: pixel coordinates, no CRS
        geometry = shapely.to_wkb(shapely.points(xs, ys))
        pyogrio.raw.write(
            path, geometry, data, fields, driver=driver, geometry_type="Point", crs=None if target is None else target.to_wkt()
        )
    return path


@dataclass
class ImportedPoints:
    """Points read from a vector file, with what was skipped and why."""

    points: PointLabels
    skipped: dict[str, int]

    def summary(self) -> str:
        """One line for the user."""
        dropped = ", ".join(f"{n} {why}" for why, n in self.skipped.items() if n)
        return f"{len(self.points)} points read" + (f"; skipped: {dropped}" if dropped else "")


@dataclass
class _Features:
    xs: np.ndarray
    ys: np.ndarray
    labels: list[str]
    crs: CRS | None
    images: np.ndarray | None  # the ``image`` field where the file has one (as pointseg writes it)


def _read_features(path: Path, label_field: str, point_crs: str | None) -> _Features:
    """Coordinates, labels (as text), CRS and image keys of a vector file or an x/y (lon/lat) CSV."""
    if path.suffix.lower() == ".csv":
        header, records = read_csv_records(path)
        columns = set(header)
        x_name, y_name = next(
            ((x, y) for x, y in (("x", "y"), ("lon", "lat"), ("longitude", "latitude")) if {x, y} <= columns), (None, None)
        )
        if x_name is None or label_field not in columns:
            raise PointsError(
                f"{path}: needs x,y (or lon,lat) columns and a {label_field!r} column, has {', '.join(sorted(columns))}",
                fix="rename the columns, or name the class column with --label-field",
            )
        for line, record in records:
            require_fields(f"{path}, line {line}", record, (x_name, y_name, label_field))
        rows = [record for _, record in records]
        try:
            xs = np.array([float(r[x_name]) for r in rows])
            ys = np.array([float(r[y_name]) for r in rows])
        except ValueError as err:
            raise PointsError(f"{path}: a coordinate is not a number ({err})", fix="give numbers in the x,y columns") from err
        images = np.array([r["image"] for r in rows], dtype=object) if "image" in columns else None
        crs = _crs(point_crs, "EPSG:4326" if x_name != "x" else None)
        return _Features(xs, ys, [r[label_field] for r in rows], crs, images)
    try:
        layers = [name for name, geometry_type in pyogrio.list_layers(path) if geometry_type is not None]
        if len(layers) > 1:
            raise PointsError(
                f"{path} holds {len(layers)} layers of features ({', '.join(layers)}): which one holds the points is not clear",
                fix="save the layer of points in a file of its own (QGIS: Export > Save Features As)",
            )
        meta, _, geometry, field_data = pyogrio.raw.read(path, layer=layers[0] if layers else None)
    except PointsError:
        raise
    except Exception as err:  # pyogrio raises DataSourceError and others for missing or foreign files
        raise PointsError(
            f"cannot read point annotations {path}: {err}", fix="give a GeoPackage, GeoJSON, Shapefile or CSV"
        ) from err
    fields = list(meta["fields"])
    if label_field not in fields:
        raise PointsError(
            f"{path} has no field {label_field!r} (fields: {', '.join(fields)})", fix="name the class field with --label-field"
        )
    points = shapely.from_wkb(geometry)
    if not (shapely.get_type_id(points) == 0).all():
        raise PointsError(f"{path} holds geometries other than points", fix="keep only point features")
    labels = [str(v) for v in field_data[fields.index(label_field)]]
    images = np.asarray(field_data[fields.index("image")], dtype=object) if "image" in fields else None
    return _Features(shapely.get_x(points), shapely.get_y(points), labels, _crs(point_crs, meta.get("crs")), images)


def _crs(given: str | None, declared: str | None) -> CRS | None:
    """The points' CRS: ``given`` (``--point-crs``; :data:`PIXELS`: none) over what the file declares."""
    crs = declared if given is None else None if given == PIXELS else given
    return None if crs is None else CRS.from_user_input(crs)


def _class_index(labels: list[str], table: ClassTable) -> np.ndarray:
    """Class index of each label, by name or else by value (or index); -1 where none matches.

    A name wins over a value: classes named ``1``, ``2``, ``3`` (land-cover codes) are found by name.

    >>> _class_index(["2", "3", "x"], ClassTable.from_rows([("1", (0, 0, 1)), ("2", (0, 0, 2)), ("3", (0, 0, 3))])).tolist()
    [1, 2, -1]
    """
    if table.kind == "value":
        lookup = {str(value): i for i, value in enumerate(table.keys)}
    else:
        lookup = {str(i): i for i in range(table.num_classes)}
    lookup |= {name: i for i, name in enumerate(table.names)}
    return np.array(
        [lookup.get(label.strip(), lookup.get(label.strip().removesuffix(".0"), -1)) for label in labels], dtype=np.int64
    )


def read_vector_points(
    path: str | Path, table: ClassTable, pairs: Sequence[ImagePair], label_field: str = "class", point_crs: str | None = None
) -> ImportedPoints:
    """Read point annotations and place them on the pixels of ``pairs`` (see the module docstring).

    Args:
        path: GeoPackage, GeoJSON, Shapefile or CSV.
        table: The classes; a label matches a class name, or its value (value tables) or index.
        pairs: The images the points may fall on.
        label_field: Field (column) holding each point's class.
        point_crs: CRS of the points' coordinates over what the file declares, needed where it declares none
            (an x,y CSV), e.g. ``EPSG:4326``; :data:`PIXELS`: pixel coordinates of pictures.

    Raises:
        PointsError: Unreadable file, missing field, no CRS where the images have one, or no point left.
    """
    path = Path(path)
    if not path.is_file():
        raise PointsError(f"point annotations not found: {path}", fix="check --point-labels")
    features = _read_features(path, label_field, point_crs)
    xs, ys, crs = features.xs, features.ys, features.crs
    classes = _class_index(features.labels, table)
    # a point whose ``image`` field names one of the dataset's images (as pointseg writes it) lies on that image,
    # which matters where rasters overlap; any other point (one added in QGIS leaves the field empty) goes to the
    # first image containing it
    images = np.full(xs.size, "", dtype=object) if features.images is None else features.images
    named = np.isin(images, [pair.key for pair in pairs])
    references = [Georeference.of(pair) for pair in pairs]
    if crs is not None and not named.any() and all(reference.picture for reference in references):
        raise PointsError(
            f"{path} gives its points in {crs.name}, but the images are plain pictures without a georeference",
            fix=f"if they are pixel coordinates (digitised on the pictures in QGIS), say so with --point-crs {PIXELS}; "
            "else give georeferenced images",
        )
    placed = np.full(xs.size, -1)  # index of the image each point falls on
    rows, cols = np.zeros(xs.size, np.int64), np.zeros(xs.size, np.int64)
    pictures_under = np.zeros(xs.size, np.int64)  # pictures that hold an unnamed point: pixel coordinates name no picture
    picture_ys = -np.abs(ys)  # on a picture y counts rows down from 0 either way (PICTURE_TRANSFORM's sign)
    for index, (pair, reference) in enumerate(zip(pairs, references)):
        candidates = (images == pair.key) | ~named
        if reference.picture:
            x, y = xs, picture_ys  # pixel coordinates, whatever CRS the file declares for the rasters
            if crs is not None:
                candidates = images == pair.key  # a point in a CRS is no pixel of a picture, unless the file names it
        elif crs is None and reference.crs is not None:
            raise PointsError(
                f"{path} has no CRS but {pair.image} is georeferenced",
                fix="give the points' CRS with --point-crs (e.g. EPSG:4326)",
            )
        elif crs is not None and reference.crs is not None and crs != reference.crs:
            x, y = Transformer.from_crs(crs, reference.crs, always_xy=True).transform(xs, ys)
        else:  # the same CRS, or a raster without one (a world file alone): taken to be in the points' own
            x, y = xs, ys
        col_f, row_f = ~reference.transform @ (np.asarray(x), np.asarray(y))
        col, row = np.floor(col_f).astype(np.int64), np.floor(row_f).astype(np.int64)
        within = candidates & (row >= 0) & (row < pair.size[0]) & (col >= 0) & (col < pair.size[1])
        if reference.picture:
            pictures_under += within & ~named
        inside = (placed < 0) & within
        placed[inside], rows[inside], cols[inside] = index, row[inside], col[inside]
    ambiguous = pictures_under > 1
    placed[ambiguous] = -1
    keys = np.array([pair.key for pair in pairs] + [None], dtype=object)[placed]  # placed -1: None, on no image
    empty = on_pixels_without_data(pairs, table, keys, rows, cols)
    skipped = {
        "outside every image": int(((placed < 0) & ~ambiguous).sum()),
        "on several pictures, none named in the image field": int(ambiguous.sum()),
        "on pixels without data": int(empty.sum()),
        "unknown class": int(((placed >= 0) & ~empty & (classes < 0)).sum()),
    }
    keep = (placed >= 0) & ~empty & (classes >= 0)
    pixels = list(zip(placed[keep].tolist(), rows[keep].tolist(), cols[keep].tolist()))
    by_pixel: dict[tuple[int, int, int], set[int]] = {}
    for pixel, cls in zip(pixels, classes[keep].tolist()):
        by_pixel.setdefault(pixel, set()).add(cls)
    conflicting = {pixel for pixel, found in by_pixel.items() if len(found) > 1}
    counts = Counter(pixels)
    skipped["pixel given two classes"] = sum(counts[p] for p in conflicting)
    unique = [(pixel, next(iter(found))) for pixel, found in by_pixel.items() if pixel not in conflicting]
    if not unique:
        raise PointsError(
            f"no point of {path} is usable ({', '.join(f'{n} {why}' for why, n in skipped.items())})",
            fix="check the CRS (--point-crs), the class field (--label-field) and that the points cover the images; "
            "on plain pictures, name each point's picture in its image field (its path under --data, without ending, "
            "as pointseg points --vector writes it)",
        )
    keys = np.array([pairs[p[0]].key for p, _ in unique], dtype=object)
    points = PointLabels(
        keys,
        np.array([p[1] for p, _ in unique], dtype=np.int64),
        np.array([p[2] for p, _ in unique], dtype=np.int64),
        np.array([c for _, c in unique], dtype=np.int64),
    )
    return ImportedPoints(points, skipped)
