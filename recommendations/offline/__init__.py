"""Offline evaluation of the recommender on MIND-format data or synthetic readers: the loader
(`mind`), the metrics (`metrics`), the site's daily DP releases replayed (`release`) and the
two protocols (`protocols`). Reads files only; writes nothing, touches no table."""
