"""One test body for both async adapters: ``@each_async_adapter`` runs an ``async def`` test
once under trio and once under asyncio, handing it the adapter (its module and ``serving``).

trio and asyncio share their client classes (``amqp10/_async_client.py``), so a behaviour both
must have is written once and proved on each.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, AsyncContextManager, Awaitable, Callable

import pytest

import amqp10.asyncio
import amqp10.trio
from support import asyncio_helpers, trio_helpers

__all__ = ["AsyncAdapter", "ADAPTERS", "each_async_adapter"]


@dataclass(frozen=True)
class AsyncAdapter:
    """What a test needs of one async adapter."""

    name: str
    #: ``amqp10.trio`` or ``amqp10.asyncio`` (``connect``, ``serve`` ...).
    module: Any
    #: Runs a test body under the adapter's event loop, bounded in time.
    run: Callable[[Callable[..., Awaitable[None]]], Callable[..., None]]
    #: Serves a handler on a free loopback port for the block.
    serving: Callable[..., AsyncContextManager[Any]]

    def connect(self, url: str, **options: Any) -> Any:
        """The adapter's ``connect(url, **options)`` (an async context manager)."""
        return self.module.connect(url, **options)


ADAPTERS = (
    AsyncAdapter("trio", amqp10.trio, trio_helpers.trio_test, trio_helpers.serving),
    AsyncAdapter("asyncio", amqp10.asyncio, asyncio_helpers.asyncio_test, asyncio_helpers.serving),
)


def each_async_adapter(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run ``async def test(adapter, ...fixtures)`` once per async adapter (ids ``trio``, ``asyncio``)."""

    @functools.wraps(fn)
    def wrapper(adapter: AsyncAdapter, *args: Any, **kwargs: Any) -> None:
        adapter.run(fn)(adapter, *args, **kwargs)

    marked: Callable[..., None] = pytest.mark.parametrize("adapter", ADAPTERS, ids=[a.name for a in ADAPTERS])(wrapper)
    return marked
