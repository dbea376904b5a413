"""``segsuite demo``: a napari viewer with the sample data and every SegSuite widget docked."""

from __future__ import annotations

PLUGIN = "napari-segsuite"


def plugin_widget_names() -> list[str]:
    """Display names of every widget the manifest declares, in manifest order."""
    import npe2

    manifest = npe2.PluginManager.instance().get_manifest(PLUGIN)
    return [w.display_name for w in manifest.contributions.widgets or []]


def open_demo_viewer(run: bool = False, viewer=None):
    """Open the sample nuclei with ground truth and dock every widget (tabbed on the right).

    Returns the viewer and a dict of docked widget name -> widget.
    """
    import napari

    viewer = viewer or napari.Viewer(title="napari-segsuite demo")
    viewer.open_sample(PLUGIN, "nuclei")
    docked = {}
    for name in plugin_widget_names():
        dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name, tabify=True)
        docked[name] = widget
    if run:
        napari.run()
    return viewer, docked
