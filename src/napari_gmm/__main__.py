"""``python -m napari_gmm``: open napari with a sample image and the GMM Segmentation widget."""

import sys

from ._napari._launch import main

if __name__ == "__main__":
    sys.exit(main())
