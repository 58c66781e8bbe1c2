"""The service's settings, read from the environment in one place.

Each field of ``Settings`` declares its variable, parser, default and meaning, so
that ``create_app``, the command line and the README's table all come from this
one list instead of scattered ``os.environ.get`` calls. Every variable starts with
``RECOMMENDER_``; the few that once lacked the prefix are still read under their
old names, with a DeprecationWarning. A bad value is refused up front with a
ConfigError naming the variable and the value, so a worker fails to boot instead
of misbehaving later.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from recommender.errors import ConfigError
from recommender.popularity.stores import default_store_url, redacted
from recommender.popularity.views import DEFAULT_MAX_PENDING
from recommender.serving.changes import default_changes_path
from recommender.serving.curation import default_curation_path
from recommender.serving.publish import DEFAULT_INDEX

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable: what the README's table shows and how its text becomes a value."""

    name: str
    parse: Callable[[str], Any]
    shown_default: str  # the README's "default" cell, as Markdown
    description: str
    old_name: str | None = None  # read too, with a DeprecationWarning, when ``name`` is unset


# -- parsers: each returns a value or raises ValueError with the reason --------------------------------


def _text(raw: str) -> str:
    return raw


def _optional(raw: str) -> str | None:
    """Empty counts as unset, as ``VAR=`` in a systemd unit or env file means."""
    return raw or None


def _optional_path(raw: str) -> Path | None:
    return Path(raw) if raw else None


def _store_url(raw: str) -> str | None:
    if not raw:
        return None
    scheme = urlsplit(raw).scheme
    sqlite_path = raw.removeprefix("sqlite:///") if scheme == "sqlite" else ""
    if scheme in ("redis", "rediss", "unix") or sqlite_path not in ("", raw):
        return raw
    raise ValueError("expected sqlite:///PATH or redis://HOST:PORT/DB")


def _switch(raw: str) -> bool:
    word = raw.strip().lower()
    if word in ("on", "1", "true", "yes"):
        return True
    if word in ("off", "0", "false", "no"):
        return False
    raise ValueError("expected on or off")


def _whole(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError("not a whole number") from None
        if value < minimum:
            raise ValueError(f"must be {minimum} or more")
        return value

    return parse


def _seconds(*, zero_allowed: bool) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError("not a number") from None
        if not math.isfinite(value):
            raise ValueError("not a number")
        if value < 0 or (value == 0 and not zero_allowed):
            raise ValueError("must be 0 or more" if zero_allowed else "must be more than 0")
        return value

    return parse


def _setting(
    name: str, parse: Callable[[str], Any], default: Any, description: str, shown: str | None = None,
    old_name: str | None = None, secret: bool = False,
) -> Any:  # fmt: skip
    """A field of Settings; ``secret`` keeps its value (a token, a URL with a password) out of its repr."""
    shown_default = shown if shown is not None else f"`{default}`"
    variable = Variable(name, parse, shown_default, description, old_name)
    return field(default=default, repr=not secret, metadata={"variable": variable})


@dataclass(frozen=True, slots=True)
class Settings:
    """The service's configuration; ``Settings()`` is every default, ``from_environ`` reads the variables."""

    index: Path = _setting(
        "RECOMMENDER_INDEX", Path, Path(DEFAULT_INDEX),
        "an index root (serves its current version) or a single index directory, loaded when the app is "
        "created (relative to the working directory)",
    )  # fmt: skip
    popularity_url: str | None = _setting(
        "RECOMMENDER_POPULARITY_URL", _store_url, None,
        "where page views are counted: `sqlite:///relative/path`, `sqlite:////absolute/path` or "
        "`redis://host:port/db`",
        shown="`sqlite:///<index's parent>/popularity.sqlite3`", old_name="POPULARITY_URL", secret=True,
    )  # fmt: skip
    popularity_flush_seconds: float = _setting(
        "RECOMMENDER_POPULARITY_FLUSH_SECONDS", _seconds(zero_allowed=False), 0.25,
        "how often (seconds, more than 0) a worker writes the views it has acknowledged; at most this much is "
        "lost if it is killed",
        old_name="POPULARITY_FLUSH_SECONDS",
    )  # fmt: skip
    popular_refresh_seconds: float = _setting(
        "RECOMMENDER_POPULAR_REFRESH_SECONDS", _seconds(zero_allowed=False), 5.0,
        "how often (seconds, more than 0) a worker recomputes the Popular ranking, in a background thread",
        shown="`5`", old_name="POPULAR_REFRESH_SECONDS",
    )  # fmt: skip
    popularity_max_pending: int = _setting(
        "RECOMMENDER_POPULARITY_MAX_PENDING", _whole(1), DEFAULT_MAX_PENDING,
        "views a worker holds while its store is unavailable; beyond that the oldest are dropped and counted",
        old_name="POPULARITY_MAX_PENDING",
    )  # fmt: skip
    events_per_minute: float = _setting(
        "RECOMMENDER_EVENTS_PER_MINUTE", _seconds(zero_allowed=True), 60.0,
        "events one client (address) may send to one worker per minute, after its burst; `0` turns the limit off",
        shown="`60`",
    )  # fmt: skip
    events_burst: int = _setting(
        "RECOMMENDER_EVENTS_BURST", _whole(1), 30,
        "events one client may send at once before the per-minute rate applies (1 or more)",
    )  # fmt: skip
    trusted_proxies: int = _setting(
        "RECOMMENDER_TRUSTED_PROXIES", _whole(0), 0,
        "reverse proxies in front of the service that append to `X-Forwarded-For`: the client is the address "
        "the outermost trusted one saw (werkzeug's `ProxyFix`); `0` uses the connection's address",
    )  # fmt: skip
    cache_max_age: int = _setting(
        "RECOMMENDER_CACHE_MAX_AGE", _whole(0), 300, "seconds a CDN or browser may cache a related list"
    )
    popular_max_age: int = _setting(
        "RECOMMENDER_POPULAR_MAX_AGE", _whole(0), 30,
        "the same for responses that contain Popular; also how long the service itself reuses one once Popular "
        "changed (half of it to all of it, page by page)",
    )  # fmt: skip
    admin_token: str | None = _setting(
        "RECOMMENDER_ADMIN_TOKEN", _optional, None,
        "enables `PUT`/`DELETE` of articles and curation for bearers of this token", shown="unset", secret=True,
    )  # fmt: skip
    changes: Path | None = _setting(
        "RECOMMENDER_CHANGES", _optional_path, None,
        "the log of articles changed during the day; `curation.sqlite3` is kept beside it; neither "
        "file is created before the first change",
        shown="`changes.sqlite3` in the index root (or beside an index directory)",
    )  # fmt: skip
    reload_interval_seconds: float = _setting(
        "RECOMMENDER_RELOAD_INTERVAL_SECONDS", _seconds(zero_allowed=True), 2.0,
        "how often each worker checks for a new index version and new article changes; `0` never checks",
        shown="`2`", old_name="RELOAD_INTERVAL_SECONDS",
    )  # fmt: skip
    warm_articles: int = _setting(
        "RECOMMENDER_WARM_ARTICLES", _whole(0), 2000,
        "articles whose \"More like this\" each worker computes in a background thread after every index "
        "change, most viewed then newest, before readers ask for them (at most 10,000); `0` leaves every list "
        "to its first reader",
    )  # fmt: skip
    allowed_origins: str = _setting(
        "RECOMMENDER_ALLOWED_ORIGINS", _text, "",
        "origins (comma-separated) whose pages may call the API cross-origin; when set, also the only pages "
        "(besides the service's own) whose page views are counted",
        shown="empty",
    )  # fmt: skip
    metrics: bool = _setting(
        "RECOMMENDER_METRICS", _switch, True,
        "`off` removes the instrumentation and makes `/metrics` answer `404`", shown="`on`",
    )  # fmt: skip

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        """Every setting from ``environ`` (``os.environ``, or a test's dict); ConfigError for a bad value."""
        return cls(**read(environ, *variables()))

    @property
    def locations(self) -> Locations:
        return Locations.resolve(self.index, self.changes, self.popularity_url)


@dataclass(frozen=True, slots=True)
class Locations:
    """Where the service's files and store are, defaults resolved: what the command line shares with it."""

    index: Path
    changes: Path
    curation: Path
    store_url: str

    @classmethod
    def resolve(cls, index: Path, changes: Path | None, popularity_url: str | None) -> Locations:
        changes = changes or default_changes_path(index)
        store_url = popularity_url or default_store_url(index)
        return cls(index, Path(changes), default_curation_path(changes), store_url)


def locations(environ: Mapping[str, str], index: str | Path | None = None) -> Locations:
    """The index, change log, curation file and page-view store named by ``environ``, defaults beside the
    index; ``index`` (a command's ``--index``) replaces RECOMMENDER_INDEX. Reads only those variables, so
    that a bad web-only setting in a shared env file does not stop a nightly build."""
    values = read(environ, "index", "changes", "popularity_url")
    return Locations.resolve(Path(index) if index is not None else values["index"], values["changes"],
                             values["popularity_url"])  # fmt: skip


def variables() -> dict[str, Variable]:
    """Field name -> its variable, in the order of the README's table."""
    return {spec.name: spec.metadata["variable"] for spec in fields(Settings)}


def read(environ: Mapping[str, str], *names: str) -> dict[str, Any]:
    """The named fields' values from ``environ``: parsed when set, else their defaults."""
    defaults = Settings()
    declared = variables()
    values = {}
    for name in names:
        variable = declared[name]
        found = _raw(environ, variable)
        if found is None:
            values[name] = getattr(defaults, name)
            continue
        given_as, raw = found
        try:
            values[name] = variable.parse(raw)
        except ValueError as error:
            shown = redacted(raw) if name == "popularity_url" else raw
            raise ConfigError(f"{given_as}={shown!r}: {error}") from None
    return values


def _raw(environ: Mapping[str, str], variable: Variable) -> tuple[str, str] | None:
    """(the name it was given under, its text), or None when unset; warns about an old name."""
    old = variable.old_name
    if old is not None and old in environ:
        ignored = " and ignored" if variable.name in environ else ""
        message = f"{old} is deprecated{ignored}: set {variable.name} instead"
        # DeprecationWarning is hidden outside __main__ by default: log it too, for whoever runs gunicorn.
        log.warning("%s", message)
        warnings.warn(message, DeprecationWarning, stacklevel=4)
        if variable.name not in environ:
            return old, environ[old]
    if variable.name in environ:
        return variable.name, environ[variable.name]
    return None


def markdown_table() -> str:
    """The README's table of variables, generated so it cannot drift from ``Settings``."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for variable in variables().values():
        lines.append(f"| `{variable.name}` | {variable.shown_default} | {variable.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
