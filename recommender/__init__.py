"""Related-articles core: corpus loading, TF-IDF vectorising, neighbour search.

Nothing here imports Flask or does I/O at import time; the service and the CLI
are thin shells over these functions.
"""
