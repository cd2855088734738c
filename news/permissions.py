"""Names of the roles that the news workflow relies on."""

EDITORS_GROUP = "Editors"
