import numpy as np

from napari_segsuite.core.samples import SAMPLES, load_sample
from napari_segsuite.core.samples.synthetic import synthetic_nuclei


def test_every_sample_loads_with_matching_ground_truth():
    for name in SAMPLES:
        image, labels = load_sample(name)
        spatial = image.shape[:-1] if name == "histology" else image.shape
        assert labels.shape == spatial
        assert labels.max() > 10 and labels.min() == 0


def test_shipped_samples_are_reproducible_from_the_generator():
    image, labels = load_sample("nuclei_test")
    again, again_labels = synthetic_nuclei((512, 512), seed=2)
    np.testing.assert_array_equal(image, again)
    np.testing.assert_array_equal(labels, again_labels)


def test_synthetic_nuclei_are_realistic():
    image, labels = synthetic_nuclei((256, 256), seed=5)
    assert image.dtype == np.uint16
    ids = np.unique(labels)[1:]
    assert np.array_equal(ids, np.arange(1, ids.size + 1))
    # Many nuclei touch another nucleus (share a 4-connected edge).
    a, b = labels[:, :-1], labels[:, 1:]
    touching = set(map(tuple, np.sort(np.stack([a, b], -1)[(a != b) & (a > 0) & (b > 0)], axis=-1)))
    assert len(touching) >= 5
    # Nuclei are brighter than background, and the background is uneven and noisy.
    assert image[labels > 0].mean() > 2 * image[labels == 0].mean()
    assert image[labels == 0].std() > 10
