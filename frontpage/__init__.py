"""Pages that compose several apps: the home, article, topic and search pages."""
