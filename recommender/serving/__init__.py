"""Publishing index versions and serving them: the live index, the day's changes, editors' curation, the boxes."""
