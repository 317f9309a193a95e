"""Analysis: mixture density, label metrics, calibration, noise sweeps, synthetic images."""
