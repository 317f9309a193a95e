"""The maths: features, exact compression, weighted EM, prediction, spatial prior, selection.

numpy, scipy and scikit-learn only: nothing here imports napari, Qt, magicgui or the
command line, so scripts and clusters can use it without a display.
"""
