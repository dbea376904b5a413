"""Prediction networks have each batch norm folded into its convolution: same probabilities, fewer passes."""

import pytest
import torch

from napari_segsuite.core.unet.model import build_unet, fold_batch_norm


def _with_statistics(net):
    """Batch norms with statistics and affine terms far from the identity, as a trained network has."""
    g = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(torch.rand(n, generator=g) * 3 + 0.1)
            m.weight.data.copy_(torch.randn(n, generator=g))
            m.bias.data.copy_(torch.randn(n, generator=g))
    return net.eval()


def test_folded_network_predicts_what_the_plain_one_does():
    torch.manual_seed(0)
    net = _with_statistics(build_unet(dict(base=8, depth=2)))
    x = torch.rand(2, 1, 32, 48)
    with torch.no_grad():
        before = net(x)
        n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
        assert fold_batch_norm(net) == n_bn == 2 * (2 + 1 + 2)  # two per double conv: 2 down, 1 bottom, 2 up
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
        after = net(x)
    assert torch.allclose(before, after, atol=1e-4 * before.abs().max())
    assert fold_batch_norm(net) == 0  # nothing left to fold


def test_a_network_in_training_mode_is_refused_and_one_without_batch_norm_is_unchanged():
    with pytest.raises(ValueError, match="evaluation mode"):
        fold_batch_norm(build_unet(dict(base=4, depth=2)).train())
    plain = build_unet(dict(base=4, depth=2, batch_norm=False)).eval()
    state = {k: v.clone() for k, v in plain.state_dict().items()}
    assert fold_batch_norm(plain) == 0
    assert all(torch.equal(v, state[k]) for k, v in plain.state_dict().items())


def test_loaded_sample_unet_is_folded_and_keeps_its_probabilities():
    """load_unet folds; its probabilities match the checkpoint's network built without folding."""
    import numpy as np

    from napari_segsuite.core import load_sample, sample_path
    from napari_segsuite.core.unet.checkpoint import load_checkpoint
    from napari_segsuite.core.unet.infer import _forward, load_unet

    net, ckpt, dev = load_unet(sample_path("unet_nuclei.pt"), "cpu")
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    plain = build_unet(load_checkpoint(sample_path("unet_nuclei.pt"))["config"])
    plain.load_state_dict(ckpt["state_dict"])
    plain.eval()
    image, _ = load_sample("nuclei_test")
    x = (image[:128, :128].astype(np.float32) / image.max())[None, None]
    with torch.no_grad():
        expected = torch.softmax(plain(torch.from_numpy(x)), 1).numpy()
    got = _forward(net, x, dev, True)
    assert np.abs(got - expected).max() < 1e-4
