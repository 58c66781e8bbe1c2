"""The API's contract: /api/v1/openapi.json names every route, and a live gunicorn keeps to it under fuzzing."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.harness import get_json, gunicorn
from service.openapi import document
from tests.conftest import AppFactory

TOKEN = "editor-token"


def routes(app) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of every route of the app."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        found |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_the_document_names_every_route_and_nothing_else(
    make_app: AppFactory, small_index: Path, tmp_path: Path
) -> None:
    app = make_app(small_index, tmp_path)
    documented = {(path, method) for path, operations in document()["paths"].items() for method in operations}
    assert documented == routes(app)
    served = app.test_client().get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.get_json()["openapi"] == "3.1.0"


def test_a_write_method_on_a_list_is_405_not_a_change(make_app: AppFactory, small_index: Path, tmp_path: Path) -> None:
    """Article ids may hold "/", but PUT .../x/related used to be taken as a PUT of article "x/related"."""
    app = make_app(small_index, tmp_path, RECOMMENDER_ADMIN_TOKEN=TOKEN)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for path in ("/api/v1/articles/space-1/related", "/api/v1/articles/space-1/recommendations"):
        response = client.put(path, json={"title": "t", "body": "b"}, headers=headers)
        assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"
        assert "PUT" not in response.headers["Allow"] and "GET" in response.headers["Allow"]


def test_schemathesis_finds_no_5xx_and_no_answer_outside_the_document(bundled_index: Path, tmp_path: Path) -> None:
    """Every check but positive_data_acceptance, which cannot hold for this API: a schema-valid event or
    article row can still name an unknown article or an impossible date, and is rightly a 400."""
    environment = {
        "RECOMMENDER_ADMIN_TOKEN": TOKEN,
        "RECOMMENDER_EVENTS_BURST": "1000000",  # the fuzzer is one client: the rate limit is tested elsewhere
        "RECOMMENDER_EVENTS_PER_MINUTE": "1000000",
    }
    with gunicorn(bundled_index, tmp_path, workers=2, **environment) as running:
        schemathesis = Path(sys.executable).parent / "schemathesis"
        command = [
            str(schemathesis), "run", f"{running.base}/api/v1/openapi.json",
            "--checks", "all", "--exclude-checks", "positive_data_acceptance",
            "--max-examples", "50", "--generation-deterministic", "--workers", "1",
            "--header", f"Authorization: Bearer {TOKEN}", "--request-timeout", "10",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        status, _ = get_json(f"{running.base}/healthz")
        assert status == 200
    log = (tmp_path / "gunicorn.log").read_text()
    assert "Traceback" not in log, log[-4000:]
