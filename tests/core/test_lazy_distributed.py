"""Lazy segmentation on a dask.distributed cluster: graphs pickle, labels are the same."""

import pickle

import dask.array as da
import numpy as np
import pytest

import napari_gmm as ng
from napari_gmm.core.analysis._synthetic import make_class_image
from napari_gmm.core.lazy._incore import runs_in_core

distributed = pytest.importorskip("distributed")


def _image():
    return make_class_image((24, 40, 36), n_classes=3, sigma=40, seed=4, dtype="uint16")[0]


def test_graphs_pickle():
    arr = da.from_array(_image(), chunks=(12, 20, 18))
    seg = ng.segment(arr, 3, random_state=0, smoothing=1.0, return_posteriors=True)
    for out in (seg.labels, seg.probability, seg.posteriors):
        graph = dict(out.__dask_graph__())
        assert pickle.loads(pickle.dumps(graph)).keys() == graph.keys()


@pytest.mark.parametrize("processes", [False, True])
@pytest.mark.parametrize("route", ["in core", "halo blocks"])
def test_local_cluster_gives_the_threaded_labels(processes, route, request):
    if route == "halo blocks":  # the route of volumes beyond the in-core budget
        request.getfixturevalue("halo_blocks")
    image = _image()
    arr = da.from_array(image, chunks=(12, 20, 18))
    threaded = ng.segment(arr, 3, random_state=0, smoothing=1.0)
    expected = threaded.labels.compute(scheduler="threads")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=processes, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        opts = {"smoothing": 1.0, "bias_field": None, "marginals": "mean-field",
                "channel_axis": None, "return_posteriors": False}
        assert runs_in_core(arr, 3, opts) == (route == "in core")
        seg = ng.segment(arr, 3, random_state=0, smoothing=1.0)  # fit runs on the cluster too
        np.testing.assert_array_equal(seg.model.means_, threaded.model.means_)
        labels = seg.labels.compute()
    np.testing.assert_array_equal(labels, expected)
