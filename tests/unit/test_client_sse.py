"""qa.client's reading of server-sent events and of error responses: pure logic, no server."""

from __future__ import annotations

import httpx
import pytest

from qa.client import (
    APIError,
    BadRequestError,
    Delta,
    NotFoundError,
    ServerError,
    SSEReader,
    UnavailableError,
    api_error,
    error_of,
    event_of,
)


def events(lines: list[str]) -> list[tuple[str, str]]:
    reader = SSEReader()
    return [e for line in lines if (e := reader.feed(line)) is not None]


def test_sse_events_per_the_spec() -> None:
    lines = [": keep-alive", "", "event: delta", 'data: {"text":', 'data: "a"}', "", "data:plain", "", "event: x", ""]
    # A comment alone dispatches nothing; data lines join with "\n"; the name resets after each
    # event; an event with no data is dropped.
    assert events(lines) == [("delta", '{"text":\n"a"}'), ("message", "plain")]


def test_stream_events_are_typed_and_errors_raise() -> None:
    assert event_of("delta", {"text": "Paris"}) == Delta("Paris")
    assert event_of("some-future-kind", {}) is None
    with pytest.raises(UnavailableError) as e:
        event_of("error", {"error": "unavailable", "message": "index damaged"})
    assert e.value.status == 503 and e.value.message == "index damaged"


def test_error_responses_become_the_exception_of_their_status() -> None:
    r = httpx.Response(404, json={"error": "not_found", "message": "no document with id 'x'"})
    err = error_of(r)
    assert isinstance(err, NotFoundError) and (err.status, err.error, err.message) == (
        404,
        "not_found",
        "no document with id 'x'",
    )
    busy = error_of(httpx.Response(503, json={"error": "unavailable", "message": "busy"}, headers={"Retry-After": "3"}))
    assert isinstance(busy, UnavailableError) and busy.retry_after == 3
    openai = error_of(
        httpx.Response(400, json={"error": {"message": "bad", "type": "invalid_request_error", "code": "x"}})
    )
    assert isinstance(openai, BadRequestError) and openai.message == "bad"
    assert isinstance(error_of(httpx.Response(502, text="<html>bad gateway</html>")), ServerError)
    assert type(api_error(409, "index_mismatch", "another model")) is APIError
