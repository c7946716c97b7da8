"""Whole-system chaos soak: run the pipeline, inject faults at random, check against the truth."""
