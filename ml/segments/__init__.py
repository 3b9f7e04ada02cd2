"""Customer segments: K-means clusters with readable labels."""
