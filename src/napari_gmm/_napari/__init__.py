"""napari adapters: dock widgets, layer helpers, worker threads, plots, sample data, commands.

Everything here may import napari, Qt and magicgui; nothing in :mod:`napari_gmm.core`
imports from here. npe2 reaches these modules through ``napari.yaml``.
"""
