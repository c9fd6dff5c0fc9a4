"""An ASGI app served by uvicorn in a thread on a free loopback port (for tests that need real HTTP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from adaptloop_devstack.broker import free_port


@contextmanager
def serve_app(app: Any, *, port: int | None = None, start_timeout_s: float = 30.0, **config: Any) -> Iterator[str]:
    """Yields the base URL once the server accepts connections; stops it on exit. `config`: more uvicorn options."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the app did not start within {start_timeout_s}s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
