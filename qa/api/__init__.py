"""The HTTP API: ``create_app`` builds it, ``worker_app`` is one `qa serve --workers N` process."""

from __future__ import annotations

from qa.api.app import create_app, worker_app

__all__ = ["create_app", "worker_app"]
