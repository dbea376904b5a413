from napari_segsuite._napari.demo import open_demo_viewer, plugin_widget_names


def test_demo_viewer_docks_every_widget(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    _, docked = open_demo_viewer(viewer=viewer)
    names = plugin_widget_names()
    assert "Evaluate" in names
    assert set(docked) == set(names)
    assert [layer.name for layer in viewer.layers][:2] == ["nuclei", "nuclei ground truth"]
