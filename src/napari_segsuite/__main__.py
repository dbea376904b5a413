"""``python -m napari_segsuite`` is the ``segsuite`` command."""

from napari_segsuite.cli import main

raise SystemExit(main())
