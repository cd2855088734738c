"""The editors' screens: the dashboard of privacy-safe aggregates and the model buttons."""
