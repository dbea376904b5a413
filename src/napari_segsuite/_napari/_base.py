"""The base of every SegSuite dock widget that runs core jobs.

:class:`JobWidget` holds the viewer and one :class:`~napari_segsuite._napari._jobs.JobControls`, refreshes the
layer choices when layers come and go, disables the widget's action buttons while a job runs, and has the
one error path of the widgets (:meth:`JobWidget.report`: a napari notification and the status line) and
the one answer to "is this layer still in the viewer?" (:meth:`JobWidget.in_viewer`).

Its content sits in a scroll area, so a dock fits beside the others on a small screen whatever its length.
"""

from __future__ import annotations

from magicgui.widgets import Container

from ._jobs import JobControls
from ._layers import layer_in_viewer, reset_layer_choices

__all__ = ["JobWidget"]


class JobWidget(Container):
    """A dock widget that runs core progress generators through its :attr:`jobs` controls.

    Subclasses set :attr:`idle_status`, build their widgets in :meth:`_build` (which returns them in display
    order; ``self.jobs`` exists by then), list the buttons a running job disables in :meth:`_busy_buttons`
    and the layer ComboBoxes in :meth:`_layer_choices`.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose layers the widget reads and adds to.
    """

    #: the status line before the first job
    idle_status = "ready"

    def __init__(self, viewer):
        self._viewer = viewer
        self.jobs = JobControls(self.idle_status)
        # scrollable: the content scrolls inside the dock instead of growing the window (see ``native``)
        super().__init__(widgets=self._build(), scrollable=True)
        # keep the controls packed at the top when the dock is taller than they are (not spread apart)
        self.root_native_widget.widget().layout().addStretch(1)
        self.jobs.on_running_changed.append(self._running_changed)
        viewer.layers.events.inserted.connect(self._refresh)
        viewer.layers.events.removed.connect(self._refresh)
        self._refresh()

    @property
    def native(self):
        """The scroll area holding the widget: what a dock embeds.

        napari docks ``widget.native``; magicgui's ``native`` of a scrollable container is the inner widget,
        which a dock would take out of its scroll area (magicgui names the outer one ``root_native_widget``).
        """
        return self.root_native_widget

    # -- for subclasses -----------------------------------------------------------------------------
    def _build(self) -> list:
        """Create the widget's controls; return them in display order."""
        return [self.jobs]

    def _busy_buttons(self) -> tuple:
        """The buttons disabled while a job runs."""
        return ()

    def _layer_choices(self) -> tuple:
        """The layer ComboBoxes refreshed when layers are added, removed or renamed."""
        return ()

    def _refresh(self, *_):
        reset_layer_choices(*self._layer_choices())

    # -- shared behaviour ---------------------------------------------------------------------------
    def _running_changed(self, running: bool) -> None:
        for button in self._busy_buttons():
            button.enabled = not running

    def in_viewer(self, layer) -> bool:
        """True if ``layer`` is still one of the viewer's layers (it may be deleted while a job runs)."""
        return layer_in_viewer(self._viewer, layer)

    def say(self, text: str) -> None:
        """Show ``text`` in the widget's status line."""
        self.jobs.set_status(text)

    def report(self, error: BaseException | str) -> None:
        """Tell the user about a mistake: one napari error notification, the same text in the status line."""
        from napari.utils.notifications import show_error

        text = str(error)
        show_error(text)
        self.say(text)
