import numpy as np

from napari_segsuite.core.layout import fold_stack_axes, unfold_stack_axes
from napari_segsuite.core.predict import iter_predict_stack
from napari_segsuite.core.progress import Progress, run


def test_fold_and_unfold_a_tzyx_stack():
    image = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    flat, lead = fold_stack_axes(image)
    assert flat.shape == (6, 4, 5) and lead == (2, 3) and np.array_equal(flat[4], image[1, 1])
    assert np.array_equal(unfold_stack_axes(flat, lead), image)
    zyx = image[0]
    assert fold_stack_axes(zyx)[0] is zyx and fold_stack_axes(zyx)[1] is None  # ZYX: one stack axis already
    assert fold_stack_axes(image, channel_axis=-1)[1] is None  # channels: unchanged


def test_iter_predict_stack_restores_every_result_array():
    def fake(model, image, channel_axis=None, scale=1):
        yield Progress(1, 1, "")
        return image * scale, image.astype(float), "note"

    image = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    labels, prob, note = run(iter_predict_stack(fake, None, image, scale=2))
    assert np.array_equal(labels, image * 2) and prob.shape == image.shape and note == "note"
