import pytest

npe2 = pytest.importorskip("npe2")

PLUGIN = "napari-segsuite"


def test_manifest_validates_and_imports_every_python_name():
    from npe2 import PluginManifest

    import napari_segsuite

    import pathlib

    path = pathlib.Path(napari_segsuite.__file__).parent / "napari.yaml"
    manifest = PluginManifest.from_file(path)
    assert manifest.name == PLUGIN
    manifest.validate_imports()
    for command in manifest.contributions.commands:
        assert command.id.startswith(f"{PLUGIN}.")


@pytest.mark.parametrize("key, layers", [("nuclei", 2), ("histology", 2), ("nuclei_3d", 2), ("nuclei_train", 2)])
def test_sample_opens_with_ground_truth(make_napari_viewer_proxy, key, layers):
    viewer = make_napari_viewer_proxy()
    viewer.open_sample(PLUGIN, key)
    assert len(viewer.layers) == layers
    image, labels = viewer.layers
    assert image._type_string == "image" and labels._type_string == "labels"
    spatial = image.data.shape[:-1] if image.rgb else image.data.shape
    assert labels.data.shape == spatial
    assert labels.data.max() > 10
    assert image.rgb == (key == "histology")
