"""Out of core: dask arrays fitted, applied and segmented block by block."""
