"""napari layer of napari-segsuite: widgets, thread workers, layer adapters, npe2 contributions."""
