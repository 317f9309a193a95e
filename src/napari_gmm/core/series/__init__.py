"""Time series: split / stack along a time axis (``_frames``) and segment every frame on its
own, with one shared model, or with a reference frame's model (``_series``)."""
