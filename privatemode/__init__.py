"""Private mode, a screen: the front page ranked in the reader's browser from a public
candidate bundle, with their topics and reads kept in that browser and never sent."""
