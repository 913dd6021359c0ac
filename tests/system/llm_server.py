"""llama.cpp's own OpenAI-compatible HTTP server (``llama-server``: ``/v1/chat/completions``
streaming and not, ``/v1/models``, ``/health``) serving a GGUF model, from the prebuilt
``xllamacpp`` wheel: no compiler, no model hub. Test infrastructure, never product code.

    python tests/system/llm_server.py MODEL.gguf [--port 8080] [--address-file FILE]

It runs until SIGTERM or SIGINT (or until the process that started it is gone). The address it
listens on (``http://127.0.0.1:PORT``; port 0 picks a free one) is printed and, with
``--address-file``, written to that file once the server is up, so a test that starts it with
port 0 has no window in which another process can take the port. Only ``xllamacpp`` and the
standard library are imported.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="llama.cpp's OpenAI-compatible server for one GGUF model (xllamacpp)")
    ap.add_argument("model", type=Path, help="the GGUF file")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0: a free port (see --address-file)")
    ap.add_argument("--alias", default="smollm2", help="the model name /v1/models lists")
    ap.add_argument("--ctx", type=int, default=4096, help="context size in tokens")
    # One thread: with two on a busy 2-core machine, generation sometimes stalls.
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--address-file", type=Path, help="written with the base URL once serving")
    args = ap.parse_args(argv)
    if not args.model.is_file():
        ap.error(f"no model file at {args.model}")

    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = str(args.model)
    params.model_alias = {args.alias}
    params.n_ctx = args.ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.hostnames = [args.host]
    params.port = args.port
    params.offline = True  # never a model hub
    params.ui = False

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()
    server = xlc.Server(params)  # loads the model and starts serving on its own threads
    address = server.listening_address
    print(f"xllamacpp {xlc.__version__} serving {args.model.name} at {address}", flush=True)
    if args.address_file:
        tmp = args.address_file.with_name(args.address_file.name + ".tmp")
        tmp.write_text(address, encoding="utf-8")
        tmp.replace(args.address_file)
    # An orphan (its test runner killed) would otherwise hold a core's worth of model forever.
    while not stop.wait(1.0) and os.getppid() == parent:
        pass
    del server  # ~Server stops the HTTP server and the main loop


if __name__ == "__main__":
    main()
