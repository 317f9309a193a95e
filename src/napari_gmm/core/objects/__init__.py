"""Objects: connected components of chosen classes, their checks and measurements."""
