"""API tier: the service with the session's real model, through HTTP (TestClient or a live in-process
server), chat, the OpenAI-compatible routes, the page's assets without a browser, and the CLI. Runs in
`make quick`."""
