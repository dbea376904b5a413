"""Fine-tuning keeps the batch-norm statistics it was given (``freeze_norm``): the layers normalise with the loaded
running mean and variance, in training too, while their scale and shift and every other weight still learn."""

import pytest
import torch

from napari_segsuite.core.training.loop import freeze_batch_norm


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU(),
                               torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1), torch.nn.BatchNorm2d(2)))


def test_frozen_layers_keep_their_statistics_and_still_learn_scale_and_shift():
    net = _net()
    assert freeze_batch_norm(net) == 2
    net.train()
    assert net.training and not net[1].training and not net[3][1].training   # nested layers too
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(4, 1, 12, 12) * 5 + 3
    out = net(x)
    out.square().mean().backward()
    after = net.state_dict()
    for key in ("1.running_mean", "1.running_var", "3.1.running_mean", "3.1.running_var", "1.num_batches_tracked"):
        assert torch.equal(after[key], before[key]), key
    assert net[1].weight.grad is not None and net[1].weight.grad.abs().sum() > 0
    with torch.no_grad():  # training and inference normalise alike
        assert torch.allclose(net(x), net.eval()(x))
    net.train(True)       # train() again (as a training loop's validation does) keeps them frozen
    assert not net[1].training


def test_unfrozen_layers_update_their_statistics():
    """The counterpart: without freezing, one training batch moves the running mean."""
    net = _net().train()
    before = net[1].running_mean.clone()
    net(torch.randn(4, 1, 12, 12) * 5 + 3)
    assert not torch.equal(net[1].running_mean, before)


@pytest.mark.parametrize("freeze", [True, False])
def test_mask_rcnn_fine_tuning_keeps_the_loaded_statistics(freeze):
    from napari_segsuite.core import load_sample, sample_path
    from napari_segsuite.core.finetune import finetune
    from napari_segsuite.core.training.checkpoint import open_checkpoint
    from napari_segsuite.core.training.defaults import FINETUNE_DEFAULTS

    assert FINETUNE_DEFAULTS["maskrcnn"]["freeze_norm"] is True
    image, labels = load_sample("nuclei_test")
    model = open_checkpoint(sample_path("maskrcnn_nuclei.pt"))
    kw = {} if freeze else {"freeze_norm": False}  # the default is to freeze
    out = finetune(model, image[:128, :128], labels[:128, :128], device="cpu", epochs=1, steps_per_epoch=2,
                   batch_size=2, val_fraction=0, **kw)
    assert out["settings"]["freeze_norm"] is freeze
    assert out["checkpoint"]["training"]["freeze_norm"] is freeze
    old, new = model["state_dict"], out["checkpoint"]["state_dict"]
    stats = [k for k in old if k.endswith(("running_mean", "running_var"))]
    assert len(stats) >= 10
    same = [torch.equal(new[k].float(), old[k].float()) for k in stats]
    assert all(same) if freeze else not any(same)
    weights = [k for k in old if k.endswith("weight") and old[k].dtype.is_floating_point]
    assert any(not torch.equal(new[k].float(), old[k].float()) for k in weights)   # the round did learn
