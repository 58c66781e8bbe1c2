"""Settings: every variable read in one place, prefixed, checked up front, documented in the README."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from recommender.config import Settings, locations, markdown_table, variables
from recommender.errors import ConfigError
from tests.conftest import REPO

RENAMED = {
    "POPULARITY_URL": ("RECOMMENDER_POPULARITY_URL", "redis://cache:6379/2", "popularity_url", "redis://cache:6379/2"),
    "POPULARITY_FLUSH_SECONDS": ("RECOMMENDER_POPULARITY_FLUSH_SECONDS", "1.5", "popularity_flush_seconds", 1.5),
    "POPULAR_REFRESH_SECONDS": ("RECOMMENDER_POPULAR_REFRESH_SECONDS", "9", "popular_refresh_seconds", 9.0),
    "RELOAD_INTERVAL_SECONDS": ("RECOMMENDER_RELOAD_INTERVAL_SECONDS", "0", "reload_interval_seconds", 0.0),
    "POPULARITY_MAX_PENDING": ("RECOMMENDER_POPULARITY_MAX_PENDING", "7", "popularity_max_pending", 7),
}


def test_no_variables_set_gives_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # On a fresh checkout: where the changes log goes depends on what var/index holds (`make run` builds one).
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_environ({})
    assert settings == Settings()
    assert settings.index == Path("var/index") and settings.cache_max_age == 300 and settings.admin_token is None
    assert settings.locations.changes == Path("var/changes.sqlite3")
    assert settings.locations.store_url == "sqlite:///var/popularity.sqlite3"


def test_every_variable_is_prefixed_and_named_after_its_field() -> None:
    assert [spec.name for spec in fields(Settings)] == list(variables())
    for name, variable in variables().items():
        assert variable.name == f"RECOMMENDER_{name.upper()}"


def test_values_are_parsed() -> None:
    environ = {
        "RECOMMENDER_INDEX": "/srv/index",
        "RECOMMENDER_CACHE_MAX_AGE": " 60 ",
        "RECOMMENDER_EVENTS_PER_MINUTE": "0",  # the limit off
        "RECOMMENDER_METRICS": "OFF",
        "RECOMMENDER_ADMIN_TOKEN": "",  # empty is unset, as VAR= in a unit file
        "RECOMMENDER_CHANGES": "/var/state/changes.sqlite3",
        "RECOMMENDER_POPULARITY_URL": "sqlite:////var/state/views.sqlite3",
    }
    settings = Settings.from_environ(environ)
    assert (settings.index, settings.cache_max_age, settings.events_per_minute) == (Path("/srv/index"), 60, 0.0)
    assert settings.admin_token is None and settings.metrics is False
    assert settings.locations.curation == Path("/var/state/curation.sqlite3")
    assert settings.locations.store_url == "sqlite:////var/state/views.sqlite3"


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("RECOMMENDER_CACHE_MAX_AGE", "abc", "not a whole number"),
        ("RECOMMENDER_CACHE_MAX_AGE", "1.5", "not a whole number"),
        ("RECOMMENDER_POPULAR_MAX_AGE", "-1", "must be 0 or more"),
        ("RECOMMENDER_TRUSTED_PROXIES", "-1", "must be 0 or more"),
        ("RECOMMENDER_EVENTS_BURST", "0", "must be 1 or more"),
        ("RECOMMENDER_EVENTS_PER_MINUTE", "-5", "must be 0 or more"),
        ("RECOMMENDER_EVENTS_PER_MINUTE", "lots", "not a number"),
        ("RECOMMENDER_POPULARITY_FLUSH_SECONDS", "0", "must be more than 0"),
        ("RECOMMENDER_POPULAR_REFRESH_SECONDS", "-2", "must be more than 0"),
        ("RECOMMENDER_POPULAR_REFRESH_SECONDS", "inf", "not a number"),
        ("RECOMMENDER_RELOAD_INTERVAL_SECONDS", "nan", "not a number"),
        ("RECOMMENDER_POPULARITY_MAX_PENDING", "0", "must be 1 or more"),
        ("RECOMMENDER_POPULARITY_URL", "mysql://x", "expected sqlite:///PATH or redis://HOST:PORT/DB"),
        ("RECOMMENDER_POPULARITY_URL", "sqlite://", "expected sqlite:///PATH or redis://HOST:PORT/DB"),
        ("RECOMMENDER_METRICS", "maybe", "expected on or off"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_value(variable: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_environ({variable: value})
    assert str(raised.value) == f"{variable}={value!r}: {reason}"
    assert isinstance(raised.value, ValueError)


def test_a_password_in_a_bad_url_is_not_repeated() -> None:
    with pytest.raises(ConfigError, match=r"'mysql://user:\*\*\*@db/0'"):
        Settings.from_environ({"RECOMMENDER_POPULARITY_URL": "mysql://user:secret@db/0"})
    settings = Settings.from_environ({"RECOMMENDER_POPULARITY_URL": "redis://:secret@cache/0",
                                      "RECOMMENDER_ADMIN_TOKEN": "token-value"})  # fmt: skip
    assert "secret" not in repr(settings) and "token-value" not in repr(settings)


@pytest.mark.parametrize("old", list(RENAMED))
def test_old_names_still_work_with_a_deprecation_warning(old: str) -> None:
    new, raw, field_name, value = RENAMED[old]
    with pytest.deprecated_call(match=f"{old} is deprecated: set {new} instead"):
        settings = Settings.from_environ({old: raw})
    assert getattr(settings, field_name) == value
    assert variables()[field_name].old_name == old


def test_the_new_name_wins_over_the_old_one() -> None:
    environ = {"POPULARITY_FLUSH_SECONDS": "3", "RECOMMENDER_POPULARITY_FLUSH_SECONDS": "0.5"}
    with pytest.deprecated_call(match="POPULARITY_FLUSH_SECONDS is deprecated and ignored"):
        assert Settings.from_environ(environ).popularity_flush_seconds == 0.5


def test_a_bad_value_under_an_old_name_is_named_as_given() -> None:
    with pytest.deprecated_call(), pytest.raises(ConfigError, match=r"^POPULARITY_MAX_PENDING='many': not a whole"):
        Settings.from_environ({"POPULARITY_MAX_PENDING": "many"})


def test_locations_read_only_the_paths_for_the_command_line() -> None:
    environ = {"RECOMMENDER_INDEX": "/srv/index", "RECOMMENDER_CACHE_MAX_AGE": "abc"}  # a web setting, bad
    assert locations(environ).changes == Path("/srv/changes.sqlite3")
    moved = locations(environ, index="/elsewhere/index")  # --index replaces RECOMMENDER_INDEX
    assert moved.index == Path("/elsewhere/index") and moved.store_url == "sqlite:////elsewhere/popularity.sqlite3"
    assert locations({"RECOMMENDER_CHANGES": "/s/c.sqlite3"}, "/i").changes == Path("/s/c.sqlite3")
    with pytest.raises(ConfigError, match="RECOMMENDER_POPULARITY_URL='x'"):
        locations({"RECOMMENDER_POPULARITY_URL": "x"})


def test_the_readme_table_is_the_settings() -> None:
    """Regenerate it with `python -m recommender.config` after changing a setting."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1]
    table = re.search(r"^\| variable \|.*?\n(?!\|)", section, re.MULTILINE | re.DOTALL)
    assert table is not None
    assert table.group(0) == markdown_table()
    for variable in variables().values():
        if variable.old_name is not None:
            assert f"`{variable.old_name}`" in section  # the old names are listed for those upgrading
