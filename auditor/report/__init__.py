"""Reports: a view model built from the history, and renderers that only display it."""
