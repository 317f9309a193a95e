"""Potts prior: mean-field sweeps, HMRF-EM, compiled kernels, Gibbs sampling, auto smoothing."""
