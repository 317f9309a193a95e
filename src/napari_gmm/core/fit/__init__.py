"""Fit stage: exact compression, weighted EM and its starts, the scikit-learn fit."""
