"""Typed domain errors; the CLI and the HTTP layer translate them at the edge."""

from __future__ import annotations


class RecommenderError(Exception):
    """Base class, so callers can catch everything this package raises on purpose."""

    exit_status = 1  # the CLI's exit status for it


class ClusterUnavailable(RecommenderError):
    """A Dask build was asked for but cannot start (dask not installed, scheduler unreachable)."""

    exit_status = 2  # like a usage error: nothing was tried


class ClusterFailed(RecommenderError):
    """The Dask cluster failed during a build (workers died, connection lost); nothing was published."""


class CorpusError(RecommenderError, ValueError):
    """The corpus as a whole cannot be used (too many bad rows, none good, unreadable)."""


class TooManyBadRows(CorpusError):
    """More of the corpus's rows are bad than allowed: probably a broken export."""


class UnknownArticle(RecommenderError, KeyError):
    """No article with this id is in the index."""

    def __init__(self, article_id: str) -> None:
        super().__init__(article_id)
        self.article_id = article_id

    def __str__(self) -> str:
        return f"no article with id {self.article_id!r}"


class IncompatibleIndex(RecommenderError, ValueError):
    """The index on disk is missing, damaged, or from another format or library version."""


class StoreUnavailable(RecommenderError):
    """The page-view store cannot be reached or written; callers degrade instead of failing."""


class AccessLogError(RecommenderError, ValueError):
    """An access log is missing or cannot be read; nothing was imported."""


class ConfigError(RecommenderError, ValueError):
    """A setting's value cannot be used; the message names the variable and the value."""
