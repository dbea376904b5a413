"""Every dock fits a 1080-px screen beside the others, and every tab title is readable (issue 20, item 1).

Before: docked one under another the window grew to 4315 px with all seven widgets (minimum heights
U-Net 921 px, Mask R-CNN 811, Evaluate 584, Superpixels 577), and tabbed, the titles shrank to "G...",
"Sup...", "U...".
"""

from __future__ import annotations

from napari_segsuite._napari.demo import open_demo_viewer, plugin_widget_names

MAX_DOCK_HEIGHT = 700


def _docks(viewer, docked):
    """The QDockWidget of each docked widget, through the public add_plugin_dock_widget (returns it again)."""
    return {name: viewer.window.add_plugin_dock_widget("napari-segsuite", name)[0] for name in docked}


def test_every_dock_is_short_and_the_window_fits_1080p(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    _, docked = open_demo_viewer(viewer=viewer)
    docks = _docks(viewer, docked)
    assert set(docks) == set(plugin_widget_names())
    heights = {name: dock.minimumSizeHint().height() for name, dock in docks.items()}
    assert all(h <= MAX_DOCK_HEIGHT for h in heights.values()), heights
    window = next(iter(docks.values())).parentWidget()
    hint = window.minimumSizeHint()
    assert hint.height() <= 1080 and hint.width() <= 1920, (hint.width(), hint.height())


def test_every_dock_alone_is_short(make_napari_viewer_proxy):
    """Docked one under another (napari's default) each widget scrolls instead of growing the window."""
    viewer = make_napari_viewer_proxy()
    for name in plugin_widget_names():
        dock, _ = viewer.window.add_plugin_dock_widget("napari-segsuite", name)
        assert dock.minimumSizeHint().height() <= MAX_DOCK_HEIGHT / 2, (name, dock.minimumSizeHint().height())
    window = dock.parentWidget()
    assert window.minimumSizeHint().height() <= 1080, window.minimumSizeHint().height()


def test_every_tab_title_is_readable_at_1920x1080(make_napari_viewer_proxy, qtbot):
    from qtpy.QtWidgets import QApplication, QTabBar

    viewer = make_napari_viewer_proxy(show=True)
    _, docked = open_demo_viewer(viewer=viewer)
    docks = _docks(viewer, docked)
    window = next(iter(docks.values())).parentWidget()
    window.resize(1920, 1080)
    for _ in range(10):
        QApplication.processEvents()
    titles = {dock.windowTitle() for dock in docks.values()}
    assert titles == set(plugin_widget_names())  # the short names, not "NAME (napari-segsuite)"
    seen = set()
    for bar in window.findChildren(QTabBar):
        if not bar.isVisible():
            continue
        for i in range(bar.count()):
            text = bar.tabText(i)
            if text not in titles:
                continue
            seen.add(text)
            need = bar.fontMetrics().horizontalAdvance(text)
            assert bar.tabRect(i).width() >= need, (text, bar.tabRect(i).width(), need)
    # every docked widget is a tab (two groups), and every tab title fits whole
    assert seen == titles, titles - seen
