"""`recommender import-views`: page views from access logs, through the core and the CLI, on SQLite and Redis."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from recommender.errors import AccessLogError
from recommender.popularity.access_log import (
    article_paths,
    count_views,
    import_views,
    parse_line,
    request_path,
    url_path,
)
from recommender.popularity.stores import open_store
from tests.access_logs import BROWSER, GOOGLEBOT, NINE, NINE_HOUR, PATHS, PHONE, line, write_log

# -- parsing and URL matching ------------------------------------------------------------------


def test_a_combined_line_is_parsed() -> None:
    entry = parse_line(line("09:15:02", "/football/1?utm_source=feed", ip="198.51.100.7"))
    assert (entry.at, entry.ip, entry.method, entry.path, entry.status) == (
        NINE + 15 * 60 + 2,
        "198.51.100.7",
        "GET",
        "/football/1",
        200,
    )
    assert entry.user_agent == BROWSER


def test_timestamps_with_an_offset_and_extra_fields_after_the_user_agent() -> None:
    text = '::1 - alice [25/Nov/2026:10:15:02 +0100] "GET /a HTTP/2.0" 304 - "-" "Firefox/120.0" 0.004 "-"'
    entry = parse_line(text)
    assert entry.at == NINE + 15 * 60 + 2 and entry.status == 304 and entry.user_agent == "Firefox/120.0"
    assert parse_line(text.replace("10:15:02 +0100", "04:15:02 -0500")).at == entry.at


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not a log line", "not in the combined log format"),
        # The common format, without referer and User-Agent: nothing to tell a bot from a reader.
        ('1.2.3.4 - - [25/Nov/2026:09:00:00 +0000] "GET /a HTTP/1.1" 200 12', "not in the combined log format"),
        ('1.2.3.4 - - [25/Foo/2026:09:00:00 +0000] "GET /a HTTP/1.1" 200 12 "-" "x"', "bad timestamp"),
        ('1.2.3.4 - - [31/Nov/2026:09:00:00 +0000] "GET /a HTTP/1.1" 200 12 "-" "x"', "bad timestamp"),
        ('1.2.3.4 - - [25/Nov/2026:24:00:00 +0000] "GET /a HTTP/1.1" 200 12 "-" "x"', "bad timestamp"),
    ],
)
def test_malformed_lines_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_line(text)


def test_a_junk_request_line_is_a_skipped_request_not_a_malformed_log_line() -> None:
    entry = parse_line('1.2.3.4 - - [25/Nov/2026:09:00:00 +0000] "\\x16\\x03\\x01" 400 150 "-" "-"')
    assert entry.method == "" and entry.path is None and entry.user_agent is None


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/wiki/X?utm=1", "/wiki/X"),
        ("/wiki/X/", "/wiki/X"),
        ("/wiki/X/?a=b#top", "/wiki/X"),
        ("/wiki/Gda%C5%84sk", "/wiki/Gdańsk"),
        ("/wiki/Toronto's_Furnal", "/wiki/Toronto's_Furnal"),
        ("https://en.wikinews.org/wiki/X?utm=1", "/wiki/X"),  # absolute form, through a proxy
        ("//wiki/X", "//wiki/X"),  # a path, not a host
        ("/", "/"),
    ],
)
def test_request_paths(target: str, path: str) -> None:
    assert request_path(target) == path


def test_article_urls_match_requests_whatever_the_host_query_slash_and_encoding() -> None:
    assert url_path("https://en.wikinews.org/wiki/X") == request_path("/wiki/X?utm=1")
    assert url_path("http://news.example/wiki/Toronto%27s_Furnal/") == request_path("/wiki/Toronto's_Furnal")
    assert url_path("/football/1") == request_path("/football/1/")
    assert url_path("https://news.example/football/1") != request_path("/football/10")


def test_articles_without_url_are_left_out_and_shared_urls_go_to_the_first() -> None:
    paths, shadowed = article_paths(
        [("a", "https://x.example/a"), ("none", None), ("copy-of-a", "https://x.example/a/"), ("b", "/b")]
    )
    assert paths == {"/a": "a", "/b": "b"}
    assert shadowed == [("copy-of-a", "a")]


# -- counting ---------------------------------------------------------------------------------------


def test_counts_per_article_and_hour_from_plain_and_gzip_logs(tmp_path: Path) -> None:
    plain = write_log(
        tmp_path / "access.log",
        [
            line("09:15:02", "/football/1?utm_source=feed"),
            line("09:40:00", "/football/2/", ip="198.51.100.7"),
            line("10:05:00", "/football/1", ip="198.51.100.7"),
        ],
    )
    zipped = write_log(tmp_path / "access.log.1.gz", [line("08:59:59", "/space/1", ip="198.51.100.9")])
    report = count_views([plain, zipped], PATHS)
    assert report.counts == {
        ("football-1", NINE_HOUR): 1,
        ("football-2", NINE_HOUR): 1,
        ("football-1", NINE_HOUR + 1): 1,
        ("space-1", NINE_HOUR - 1): 1,
    }
    assert (report.files, report.lines, report.counted, sum(report.skipped.values())) == (2, 4, 4, 0)
    assert report.hours == (NINE_HOUR - 1, NINE_HOUR + 1)


def test_bots_other_methods_statuses_and_pages_are_skipped_with_their_reason(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "access.log",
        [
            line("09:00:00", "/football/1", agent=GOOGLEBOT),
            line("09:00:01", "/football/1", agent="-"),
            line("09:00:02", "/football/1", agent="curl/8.5.0"),
            line("09:00:03", "/football/1", method="POST"),
            line("09:00:04", "/football/1", method="HEAD"),
            line("09:00:05", "/football/1", status=404),
            line("09:00:06", "/football/1", status=301),
            line("09:00:07", "/football/1", status=500),
            line("09:00:08", "/static/site.css"),
            line("09:00:09", "/football"),
            line("09:00:10", "/football/1", ip="198.51.100.1", status=304),
            line("09:00:11", "/football/1", ip="198.51.100.2"),
        ],
    )
    report = count_views([log], PATHS)
    assert report.counts == {("football-1", NINE_HOUR): 2}
    assert dict(report.skipped) == {"bot": 3, "method": 2, "status": 3, "not an article": 2}
    assert report.lines == 12 and report.counted == 2


def test_malformed_lines_are_counted_and_the_first_few_reported_with_file_and_line(tmp_path: Path) -> None:
    good = line("09:00:00", "/football/1")
    log = write_log(tmp_path / "access.log.gz", [good, "garbage 1", "", "garbage 2", "garbage 3", good])
    report = count_views([log], PATHS, max_problems=2)
    assert report.skipped["malformed"] == 3
    assert [str(problem) for problem in report.problems] == [
        f"{log}:2: not in the combined log format",
        f"{log}:4: not in the combined log format",
    ]
    assert report.lines == 5  # the blank line is not a line read
    assert report.counted == 1 and report.skipped["duplicate"] == 1


def test_a_visitor_counts_once_per_article_per_30_minutes(tmp_path: Path) -> None:
    log = write_log(
        tmp_path / "access.log",
        [
            line("09:00:00", "/football/1"),
            line("09:10:00", "/football/1?page=2"),  # same visitor: duplicate
            line("09:10:00", "/football/1", agent=PHONE),  # same IP, another browser: another visitor
            line("09:10:00", "/football/1", ip="198.51.100.7"),  # another IP: another visitor
            line("09:20:00", "/football/2"),  # another article
            line("09:29:59", "/football/1"),  # still within 30 minutes of 09:00:00
            line("09:30:00", "/football/1"),  # 30 minutes after the last counted view: counted
        ],
    )
    report = count_views([log], PATHS)
    assert report.counts == {("football-1", NINE_HOUR): 4, ("football-2", NINE_HOUR): 1}
    assert report.skipped == {"duplicate": 2}


def test_the_window_holds_across_hours_of_a_long_log(tmp_path: Path) -> None:
    # A reader reloading every 20 minutes for 4 hours is counted at 0, 40, 80, ... minutes.
    times = [f"{9 + minute // 60:02d}:{minute % 60:02d}:00" for minute in range(0, 240, 20)]
    log = write_log(tmp_path / "access.log", [line(time, "/space/1") for time in times])
    report = count_views([log], PATHS)
    assert report.counted == 6 and report.skipped["duplicate"] == 6
    assert report.counts == {("space-1", NINE_HOUR + hour): n for hour, n in enumerate([2, 1, 2, 1])}


def test_the_window_holds_across_an_hour_boundary(tmp_path: Path) -> None:
    log = write_log(tmp_path / "access.log", [line(time, "/space/1") for time in ("09:50:00", "10:00:00", "10:19:59")])
    report = count_views([log], PATHS)
    assert report.counts == {("space-1", NINE_HOUR): 1} and report.skipped == {"duplicate": 2}


def test_files_are_merged_by_time_whatever_their_order(tmp_path: Path) -> None:
    # Newest first, as `access.log*` expands, and two servers behind one load balancer.
    newer = write_log(tmp_path / "access.log", [line("10:20:00", "/football/1"), line("10:40:00", "/football/1")])
    older = write_log(tmp_path / "access.log.1.gz", [line("09:00:00", "/football/1"), line("10:00:00", "/football/1")])
    other_server = write_log(tmp_path / "web2.log", [line("09:05:00", "/football/1"), line("10:31:00", "/football/1")])
    report = count_views([newer, other_server, older], PATHS)
    # 09:00 and 10:00 count; 09:05, 10:20 fall within their 30 minutes; 10:31 counts, 10:40 does not.
    assert report.counts == {("football-1", NINE_HOUR): 1, ("football-1", NINE_HOUR + 1): 2}
    assert report.skipped == {"duplicate": 3}


def test_a_missing_or_truncated_file_fails_before_anything_is_written(tmp_path: Path, popularity_url: str) -> None:
    good = write_log(tmp_path / "access.log", [line("09:00:00", "/football/1")])
    truncated = tmp_path / "access.log.1.gz"
    truncated.write_bytes(gzip.compress(f"{line('09:30:00', '/space/1')}\n".encode() * 500)[:300])
    store = open_store(popularity_url)
    try:
        with pytest.raises(AccessLogError, match="no such access log"):
            import_views([good, tmp_path / "missing.log"], PATHS, store)
        with pytest.raises(AccessLogError, match=f"{truncated}: cannot read access log"):
            import_views([good, truncated], PATHS, store)
        assert store.hourly_counts(NINE_HOUR - 24, NINE_HOUR + 24) == {}
    finally:
        store.close()


def test_imported_counts_land_in_the_store_for_their_hours(tmp_path: Path, popularity_url: str) -> None:
    log = write_log(
        tmp_path / "access.log.gz",
        [
            line("09:15:00", "/football/1"),
            line("09:16:00", "/football/1", ip="198.51.100.7"),
            line("09:17:00", "/football/1", ip="198.51.100.7"),
            line("11:00:00", "/space/1/"),
        ],
    )
    store = open_store(popularity_url)
    try:
        store.add_counts({("football-1", NINE_HOUR): 5})  # e.g. from the beacon: the import adds to it
        report = import_views([log], PATHS, store)
        assert report.counted == 3
        assert store.hourly_counts(NINE_HOUR - 24, NINE_HOUR + 24) == {
            "football-1": {NINE_HOUR: 7},
            "space-1": {NINE_HOUR + 2: 1},
        }
    finally:
        store.close()


# -- the command ----------------------------------------------------------------------------------
