"""Bias field: a smooth multiplicative field estimated jointly with the mixture."""
