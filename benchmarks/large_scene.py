"""Large-scene prediction: throughput and peak memory on synthetic GeoTIFFs of 5,000 and 20,000 pixels a side.

Writes each scene (3-band uint8, tiled and compressed, in UTM 40N) window by window,
then predicts it with ``predict_raster`` in a fresh process and reads that process's peak
resident memory. Prints megapixels per second and peak memory for each scene, and the
ratio of the peaks: memory must not grow with the scene (blending keeps one tile row of a
panel of columns, GDAL's cache is capped). The model is a U-Net with fresh weights (the
cost of a prediction does not depend on the weights), or ``--checkpoint``.

    python benchmarks/large_scene.py --sizes 5000 20000 --out benchmarks/out/large-scene
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin
from rasterio.windows import Window


def write_scene(path: Path, size: int, block: int = 1024) -> Path:
    """A ``size`` x ``size`` 3-band GeoTIFF of smooth fields and noise, written block by block."""
    if path.exists():
        return path
    profile = dict(driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs=CRS.from_epsg(32640),
                   transform=from_origin(300_000, 2_800_000, 0.3, 0.3), tiled=True, blockxsize=256, blockysize=256,
                   compress="deflate", BIGTIFF="IF_SAFER")  # fmt: skip
    rng = np.random.default_rng(0)
    with rasterio.open(path, "w", **profile) as dst:
        for row in range(0, size, block):
            for col in range(0, size, block):
                h, w = min(block, size - row), min(block, size - col)
                y, x = np.mgrid[row : row + h, col : col + w]
                field = 100 + 60 * np.sin(x / 97.0) * np.cos(y / 131.0)
                bands = np.stack([field + 30 * k for k in range(3)]) + rng.normal(0, 8, (3, h, w))
                dst.write(np.clip(bands, 0, 255).astype(np.uint8), window=Window(col, row, w, h))
    return path


def _predict(source: str, target: str, checkpoint: str | None, options: dict) -> dict:
    """Runs in a fresh process: seconds of the prediction and the process's peak resident memory."""
    import torch

    from pointseg.classes import ClassTable
    from pointseg.data.dataset import BandStats
    from pointseg.models import ModelConfig
    from pointseg.predict import Segmenter, TileOptions, predict_raster
    from pointseg.task import PointSegModule

    if checkpoint:
        segmenter = Segmenter.from_checkpoint(checkpoint, "auto")
    else:
        classes = ClassTable.from_rows([(f"class{i}", (40 * i, 255 - 40 * i, 128)) for i in range(6)])
        module = PointSegModule(
            ModelConfig(num_classes=6).model_dump(), classes.to_dict(), BandStats((128.0,) * 3, (50.0,) * 3).to_dict()
        )
        segmenter = Segmenter(module.eval(), torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    start = time.perf_counter()
    predict_raster(segmenter, source, target, TileOptions(**options))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(source: Path, target: Path, args: argparse.Namespace) -> dict:
    """Predict ``source`` in a fresh process: seconds and that process's peak resident memory."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        options = {"tile": args.tile, "overlap": args.overlap, "batch": args.batch, "panel": args.panel}
        return pool.apply(_predict, (str(source), str(target), args.checkpoint, options))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/large-scene"))
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--panel", type=int, default=4096)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for size in args.sizes:
        scene = write_scene(args.out / f"scene-{size}.tif", size)
        result = measure(scene, args.out / f"classes-{size}.tif", args)
        result["megapixels_per_s"] = size * size / 1e6 / result["seconds"]
        results[size] = result
        speed, seconds, peak = result["megapixels_per_s"], result["seconds"], result["peak_mb"]
        print(f"{size} x {size}: {speed:.2f} Mpx/s, {seconds:.0f} s, peak {peak:.0f} MB", flush=True)
    if len(results) > 1:
        small, big = results[min(results)], results[max(results)]
        print(f"peak memory {max(results)} / {min(results)}: {big['peak_mb'] / small['peak_mb']:.2f}")
    (args.out / "summary.json").write_text(
        json.dumps(
            {"tile": args.tile, "overlap": args.overlap, "batch": args.batch, "panel": args.panel, "results": results}, indent=2
        )
    )


if __name__ == "__main__":
    main()
