"""Building the index: read a corpus, vectorise it, find each article's neighbours, save and load the result."""
