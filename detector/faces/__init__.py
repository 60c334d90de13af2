"""Face stage: detection backends, 5-point alignment, quality gate and tracking."""
