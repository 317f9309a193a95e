"""Sample data for napari's *File > Open Sample > GMM Segmentation* menu.

Every function returns a list of napari ``LayerData`` tuples ``(data, kwargs, layer_type)``;
the synthetic ones are made at run time with a fixed seed and come with their ground truth
as a (hidden) Labels layer. Nothing is downloaded and napari is not imported.
"""

from __future__ import annotations

import numpy as np

#: Seed of the synthetic samples (the same images every time).
SEED = 0


def classes_2d() -> list[tuple]:
    """A noisy 2D image of three intensity classes, with its ground truth.

    Returns
    -------
    list of LayerData tuples
        ``"3-class image"``: (256, 256) uint8, class means 68, 128, 188 plus Gaussian noise
        of standard deviation 20; ``"3-class truth"``: labels 1..3, 1 the darkest class.

    Examples
    --------
    >>> (image, _, kind), (truth, _, truth_kind) = classes_2d()
    >>> image.shape, image.dtype, kind, truth_kind
    ((256, 256), dtype('uint8'), 'image', 'labels')
    """
    from ..core import make_class_image

    image, truth = make_class_image((256, 256), 3, gap=60.0, sigma=20.0, seed=SEED)
    gray = {"colormap": "gray", "contrast_limits": (0, 255)}
    return [
        (image, {"name": "3-class image", **gray}, "image"),
        (truth, {"name": "3-class truth", "visible": False, "opacity": 0.5}, "labels"),
    ]


def blobs_3d() -> list[tuple]:
    """A noisy 3D stack of smooth blobs of three intensity classes, with its ground truth.

    Returns
    -------
    list of LayerData tuples
        ``"3D blobs"``: (40, 96, 96) uint8 with anisotropic voxels (scale (2, 1, 1));
        ``"3D blobs truth"``: labels 1..3, 1 the darkest class.
    """
    from ..core import make_class_image

    image, truth = make_class_image(
        (40, 96, 96), 3, gap=60.0, sigma=18.0, feature_size=5.0, seed=SEED
    )
    scale = (2.0, 1.0, 1.0)
    gray = {"colormap": "gray", "contrast_limits": (0, 255)}
    return [
        (image, {"name": "3D blobs", "scale": scale, **gray}, "image"),
        (
            truth,
            {"name": "3D blobs truth", "visible": False, "opacity": 0.5, "scale": scale},
            "labels",
        ),
    ]


def immunohistochemistry() -> list[tuple]:
    """A real RGB image: immunohistochemical staining (from scikit-image, bundled).

    Returns
    -------
    list of LayerData tuples
        ``"immunohistochemistry"``: (512, 512, 3) uint8 RGB, no ground truth. Three or four
        classes separate background, hematoxylin (blue) and DAB (brown) staining.
    """
    from skimage import data

    image = np.asarray(data.immunohistochemistry())
    return [(image, {"name": "immunohistochemistry", "rgb": True}, "image")]
