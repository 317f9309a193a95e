"""Model JSON round trip and image reading."""

import json

import numpy as np
import pytest
from skimage import data

import napari_gmm as ng
from napari_gmm.io import read_image


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_model_round_trip(tmp_path, covariance_type):
    image = data.immunohistochemistry()[::8, ::8]
    seg = ng.segment(image, 3, channel_axis=-1, covariance_type=covariance_type, random_state=0)
    path = ng.save_model(seg.model, tmp_path / "model.json")
    json.loads(path.read_text())  # plain JSON, no pickle
    model = ng.load_model(path)
    X = ng.pixel_features(image, channel_axis=-1)
    assert np.array_equal(model.predict(X), seg.model.predict(X))
    assert np.allclose(model.score_samples(X), seg.model.score_samples(X))


def test_load_model_rejects_other_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{"a": 1}')
    with pytest.raises(ValueError, match="missing field"):
        ng.load_model(path)
    path.write_text("not json")
    with pytest.raises(ValueError, match="not a JSON model file"):
        ng.load_model(path)


def test_read_image_formats(tmp_path):
    import imageio.v3 as iio
    import tifffile

    rgb = data.astronaut()[::16, ::16]
    iio.imwrite(tmp_path / "a.png", rgb)
    tifffile.imwrite(tmp_path / "a.tiff", rgb)
    assert np.array_equal(read_image(tmp_path / "a.png"), rgb)
    assert np.array_equal(read_image(tmp_path / "a.tiff"), rgb)
