"""Guided classes: scribbles that name the classes (semi-supervised EM), classes of several
Gaussians, class names; applied per class (see ``_guided`` for the overview)."""
