"""``segsuite demo``: a napari viewer with the sample data and every SegSuite widget docked."""

from __future__ import annotations

PLUGIN = "napari-segsuite"

#: The demo's two tab groups, stacked on the right: labeling and training data, then models and evaluation.
#: Two groups of at most four short titles keep every tab title whole in a dock of ~400 px.
TAB_GROUPS = (("GrabCut", "Superpixels", "Weight map", "Export"), ("U-Net", "Mask R-CNN", "Evaluate", "Clustering"))


def plugin_widget_names() -> list[str]:
    """Display names of every widget the manifest declares, in manifest order."""
    import npe2

    manifest = npe2.PluginManager.instance().get_manifest(PLUGIN)
    return [w.display_name for w in manifest.contributions.widgets or []]


def open_demo_viewer(run: bool = False, viewer=None):
    """Open the sample nuclei with ground truth and dock every widget, in two tab groups on the right.

    Each dock's tab shows the widget's short name (napari titles a plugin dock "NAME (napari-segsuite)",
    which a row of seven tabs shrinks to "G...", "Sup..."). Returns the viewer and a dict of docked widget
    name -> widget.
    """
    import napari

    viewer = viewer or napari.Viewer(title="napari-segsuite demo")
    viewer.open_sample(PLUGIN, "nuclei")
    names = plugin_widget_names()
    groups = [[n for n in group if n in names] for group in TAB_GROUPS]
    groups.append([n for n in names if not any(n in g for g in TAB_GROUPS)])  # any widget not placed above
    docked, firsts = {}, []
    for group in groups:
        for i, name in enumerate(group):
            # the first of a group goes below the previous group; the others become tabs beside it
            dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name, tabify=i > 0)
            dock.setWindowTitle(name)
            docked[name] = widget
        if group:
            firsts.append(viewer.window.add_plugin_dock_widget(PLUGIN, group[0])[0])
    from qtpy.QtCore import QTimer

    for dock in firsts:  # each group shows its first widget (after napari's own raising of the last one added)
        dock.raise_()
        QTimer.singleShot(0, dock.raise_)
    if len(firsts) > 1:  # the groups share the height evenly (napari gives a new dock the least)
        from qtpy.QtCore import Qt

        window = firsts[0].parentWidget()
        window.resizeDocks(firsts, [1000] * len(firsts), Qt.Orientation.Vertical)
    if run:
        napari.run()
    return viewer, docked
