"""What every model family uses: as-of features, typed settings, thread limits, the model store."""
