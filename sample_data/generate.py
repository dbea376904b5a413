"""Regenerate the sample images in this folder (deterministic: fixed seeds).

    python sample_data/generate.py

Writes, each with its ground-truth instance mask ``NAME_masks.tif`` (cellpose convention):
- ``nuclei_train.tif``  512x512 uint16 fluorescence nuclei (training image for the demo models)
- ``nuclei_test.tif``   512x512 uint16 fluorescence nuclei (a different field, for evaluation)
- ``histology.tif``     256x256x3 uint8 H&E-like RGB
- ``nuclei_3d.tif``     24x128x128 uint16 stack of nuclei
"""

from pathlib import Path


from napari_segsuite.core.io import write_tiff
from napari_segsuite.core.labels import smallest_uint_dtype
from napari_segsuite.core.samples.synthetic import synthetic_histology, synthetic_nuclei, synthetic_nuclei_3d

HERE = Path(__file__).resolve().parent


def main(out=HERE):
    out = Path(out)
    samples = {
        "nuclei_train": synthetic_nuclei((512, 512), seed=1),
        "nuclei_test": synthetic_nuclei((512, 512), seed=2),
        "histology": synthetic_histology((256, 256), seed=3),
        "nuclei_3d": synthetic_nuclei_3d((24, 128, 128), seed=4),
    }
    for name, (image, labels) in samples.items():
        write_tiff(out / f"{name}.tif", image)
        write_tiff(out / f"{name}_masks.tif", labels.astype(smallest_uint_dtype(int(labels.max()))))
        print(f"{name}: image {image.shape} {image.dtype}, {int(labels.max())} instances")
    return samples


if __name__ == "__main__":
    main()
