"""gunicorn config for the file wrapper test: each worker notes how it sent a response body.

``Response.sendfile`` answers True when gunicorn used ``socket.sendfile``; it is only called
for a body that is the server's own ``FileWrapper`` (gunicorn checks its type first).
"""

from __future__ import annotations

import os
from typing import Any


def post_fork(server: Any, worker: Any) -> None:
    from gunicorn.http.wsgi import Response

    original = Response.sendfile

    def sendfile(self: Any, respiter: Any) -> bool:
        used: bool = original(self, respiter)
        with open(os.environ["TEST_SENDFILE_LOG"], "a") as log:
            log.write(f"{type(respiter).__name__} sendfile={used}\n")
        return used

    Response.sendfile = sendfile  # type: ignore[method-assign]
