"""Models loaded for prediction on a CPU run channels-last (faster oneDNN convolutions) and predict what the plain
layout predicts; a network handed in (e.g. one being trained) is not rearranged."""

import copy

import numpy as np
import torch

from napari_segsuite.core.samples import load_sample, sample_path


def _first_conv_weight(net):
    """A 3x3 convolution's weight with several input channels (with one, both layouts have the same strides)."""
    return next(m.weight for m in net.modules()
                if isinstance(m, torch.nn.Conv2d) and m.in_channels > 1 and m.kernel_size == (3, 3))


def test_unet_loaded_on_cpu_is_channels_last_and_predicts_the_same():
    from napari_segsuite.core.unet.infer import _forward, load_unet

    net, _, dev = load_unet(sample_path("unet_nuclei.pt"), "cpu")
    assert _first_conv_weight(net).is_contiguous(memory_format=torch.channels_last)
    plain = copy.deepcopy(net).to(memory_format=torch.contiguous_format)
    assert not _first_conv_weight(plain).is_contiguous(memory_format=torch.channels_last)
    x = np.random.default_rng(0).random((1, 1, 96, 128), dtype=np.float32)
    a = _forward(net, x, dev, amp=True)
    with torch.inference_mode():
        b = torch.softmax(plain(torch.from_numpy(x)), dim=1).numpy()
    assert a.shape == b.shape == (1, 2, 96, 128)
    assert np.abs(a - b).max() < 1e-4


def test_maskrcnn_loaded_on_cpu_is_channels_last_and_predicts_the_same_labels():
    from napari_segsuite.core.maskrcnn import predict_maskrcnn
    from napari_segsuite.core.maskrcnn.infer import _resolve_model

    image = load_sample("nuclei_test")[0][:192, :192]
    net, _, _ = _resolve_model(sample_path("maskrcnn_nuclei.pt"), "cpu")
    assert _first_conv_weight(net).is_contiguous(memory_format=torch.channels_last)
    plain = copy.deepcopy(net).to(memory_format=torch.contiguous_format)
    a = predict_maskrcnn(net, image, device="cpu")[0]
    b = predict_maskrcnn(plain, image, device="cpu")[0]
    assert a.max() > 5
    assert np.array_equal(a, b)
    # a model object handed in keeps its layout
    again, _, _ = _resolve_model(plain, "cpu")
    assert again is plain and not _first_conv_weight(plain).is_contiguous(memory_format=torch.channels_last)
