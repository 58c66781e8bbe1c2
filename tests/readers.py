"""A reader's view of the service in tests: page views, a fake clock moving on, the Popular list."""

from __future__ import annotations

from tests.conftest import FakeClock

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"


class Site:
    """What the website does: report views; what the tests need: flush and move time."""

    def __init__(self, app, client, clock: FakeClock) -> None:
        self.app, self.client, self.clock = app, client, clock
        self.readers = 0

    def view(self, article_id: str, times: int = 1, visitor: str | None = None, agent: str = BROWSER):
        """``times`` views by one visitor, or by as many different readers when no visitor is named."""
        for _ in range(times):
            self.readers += 1
            event = {"type": "view", "article_id": article_id, "visitor_id": visitor or f"reader-{self.readers}"}
            response = self.client.post("/api/v1/events", json=event, headers={"User-Agent": agent})
            assert response.status_code == 202, response.get_json()
        self.flush()
        return response

    def flush(self) -> None:
        self.app.extensions["recommender.popularity"].recorder.flush()

    def later(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def refreshed(self) -> None:
        self.later(60)  # past the per-process refresh interval...
        self.app.extensions["recommender.popularity"].rankings.refresh()  # ...and refreshed, as the thread would...
        self.later(self.app.config["POPULAR_CACHE_MAX_AGE"])  # ...and as long on as answers with Popular stay fresh

    def popular(self, query: str = "") -> dict:
        self.refreshed()
        response = self.client.get(f"/api/v1/popular?{query}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def popular_ids(self, query: str = "") -> list[str]:
        """The items ranked by views; the rest of the box is filled with recent articles."""
        return [item["id"] for item in self.popular(query)["items"] if item["reason"] == "popular"]
