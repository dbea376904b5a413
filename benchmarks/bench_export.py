"""Time dataset export/load per layout, and our COCO RLE encoder against pycocotools (same run).

Run: PYTHONPATH=src python benchmarks/bench_export.py
Prints seconds per call and the ratio ours / pycocotools for encoding every instance of a label image.
"""

import tempfile
import time

import numpy as np

from napari_segsuite.core.dataset import export_dataset, load_dataset
from napari_segsuite.core.dataset.rle import instances_to_coco
from napari_segsuite.core.samples.synthetic import synthetic_nuclei


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main():
    image, labels = synthetic_nuclei((1024, 1024), n_nuclei=600, seed=0)
    n = len(np.unique(labels)) - 1
    print(f"image 1024x1024 uint16, {n} instances")
    for fmt in ("tiff", "ome-zarr", "coco"):
        with tempfile.TemporaryDirectory() as tmp:
            k = {"i": 0}

            def export():
                k["i"] += 1
                export_dataset(f"{tmp}/ds{k['i']}", [("a", image, labels)], format=fmt)

            t_export = best(export)
            t_load = best(lambda: load_dataset(f"{tmp}/ds1"))
            print(f"{fmt:9s} export {t_export:6.3f} s   load {t_load:6.3f} s")
    try:
        from pycocotools import mask as mask_utils
    except ImportError:
        return

    def reference():
        ids = np.unique(labels)[1:]
        for i in ids:
            rle = mask_utils.encode(np.asfortranarray((labels == i).astype(np.uint8)))
            mask_utils.toBbox(rle), mask_utils.area(rle)

    ours = best(lambda: instances_to_coco(labels, 1))
    ref = best(reference)
    print(f"COCO RLE of all instances: ours {ours:.3f} s, pycocotools per-instance masks {ref:.3f} s, "
          f"ratio ours/ref {ours / ref:.2f}")


if __name__ == "__main__":
    main()
