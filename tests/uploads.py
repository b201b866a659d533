"""Adding an article through the HTTP API as a page does: POST /api/articles (202 and a
job), then the job polled until it ends. For TestClient and httpx clients alike."""

from __future__ import annotations

import time
from typing import Any

WAIT = 60  # seconds a job may take before the test fails instead of hanging
FINISHED = ("ready", "failed")


def add_article(client: Any, name: str, data: bytes, **request: Any) -> dict[str, Any]:
    """Upload `data` as file `name`; the job once ready or failed."""
    reply = client.post("/api/articles", files={"file": (name, data)}, **request)
    assert reply.status_code == 202, reply.text
    return wait_for_job(client, reply.json())


def wait_for_job(client: Any, job: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT
    while job["state"] not in FINISHED:
        assert time.monotonic() < deadline, f"the upload's job did not end: {job}"
        time.sleep(0.05)
        reply = client.get(f"/api/articles/jobs/{job['job']}")
        assert reply.status_code == 200, reply.text
        job = reply.json()
    return job
