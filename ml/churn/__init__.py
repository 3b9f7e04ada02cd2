"""Churn: candidates, metrics, training with champion selection, refit policy, early warning."""
