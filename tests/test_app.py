"""The real app over HTTP (models injected once per run)."""

from fastapi.testclient import TestClient

from server.core.config import Settings
from server.engines import Engines
from server.web.app import create_app


def test_healthz_and_articles(settings: Settings, engines: Engines) -> None:
    with TestClient(create_app(settings, engines)) as client:
        health = client.get("/healthz").json()
        assert health["status"] == "ok"
        assert health["articles"] == 2
        assert set(health["models"]) == {"stt", "llm", "tts"}
        assert health["models"]["llm"]["name"] == "smollm2-135m"
        assert all(m["load_seconds"] > 0 for m in health["models"].values())

        articles = client.get("/api/articles").json()
        assert {a["site"] for a in articles} == {"AgntBox", "stayupdatedwith.ai"}
        for a in articles:
            assert set(a) >= {"id", "title", "site", "author", "date", "word_count"}
            assert a["word_count"] > 500

        page = client.get("/")
        assert page.status_code == 200 and "<html" in page.text


def test_restart_keeps_the_library_without_duplicates(settings: Settings, engines: Engines) -> None:
    for _ in range(2):
        with TestClient(create_app(settings, engines)) as client:
            assert client.get("/healthz").json()["articles"] == 2
