"""Schemas declared once, imported by every side that reads or writes them.

A neutral package: it imports nothing of the project. The source contract (what the source
systems deliver) is read by the simulator, which writes it, and by the extractors, which
load it; the ML output declarations are read by the model writers, the dbt sources
generator and the tests that keep the two in step.
"""
