"""Scoring identity resolution against the simulator's ground truth."""
