"""Timing streamed bodies: a request ends when its body is exhausted, fails, or is closed.

Used by every adapter whose framework hands back a lazily produced body (WSGI iterables,
Django's ``StreamingHttpResponse``), so the last chunk's work is part of the request's time.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator

from .profiling import request_boundary

Finish = Callable[[BaseException | None], None]


def once(finish: Finish) -> Finish:
    """``finish`` guarded to run a single time, whichever end comes first."""
    done = False

    def call(error: BaseException | None) -> None:
        nonlocal done
        if not done:
            done = True
            finish(error)

    return call


@request_boundary  # a streamed body is produced here, after the adapter returned
def timed_iter(body: Iterable[bytes], finish: Finish) -> Iterator[bytes]:
    """Yield ``body`` and call ``finish`` at its end (closed early: ``GeneratorExit``)."""
    try:
        yield from body
    except GeneratorExit:  # the server closed it before the end (client gone)
        finish(None)
        raise
    except BaseException as exc:
        finish(exc)
        raise
    finish(None)


async def timed_aiter(body: AsyncIterable[bytes], finish: Finish) -> AsyncIterator[bytes]:
    """The ``async for`` twin of ``timed_iter``."""
    try:
        async for chunk in body:
            yield chunk
    except GeneratorExit:
        finish(None)
        raise
    except BaseException as exc:
        finish(exc)
        raise
    finish(None)
