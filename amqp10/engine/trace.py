"""Frame tracing: every frame in and out, decoded, on logger ``amqp10.frames``.

Owns: the one environment variable of the engine, ``AMQP10_TRACE_FRM`` (``1`` enables it),
read once, here, at import. ``Connection`` calls ``log_frame`` from one place per direction
only when ``ENABLED`` is true, so an untraced connection pays one boolean test per frame.
Must never: be called from anywhere but ``Connection``.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

__all__ = ["ENABLED", "LOGGER", "set_enabled", "log_frame", "log_header"]

LOGGER = logging.getLogger("amqp10.frames")

#: true when frames are traced; read at import, changeable with ``set_enabled``
ENABLED: bool = os.environ.get("AMQP10_TRACE_FRM") == "1"


class _UnlessConfigured(logging.Handler):
    """Writes a traced frame to stderr only when no other handler would get it.

    ``PN_TRACE_FRM`` prints without any setup, and so must ``AMQP10_TRACE_FRM``: an
    application that configured no logging would otherwise lose every frame, since a DEBUG
    record that reaches no handler goes to ``logging.lastResort``, which shows WARNING and
    above only. An application that did configure logging (before or after tracing began)
    gets the frames where it sends its logs, once, and nothing here. Like ``lastResort``, it
    writes to whatever ``sys.stderr`` is at the time.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if self._handled_elsewhere():
            return
        try:
            sys.stderr.write(f"{self.format(record)}\n")
        except Exception:  # noqa: BLE001 - logging's own rule: a failing handler never raises
            self.handleError(record)

    def _handled_elsewhere(self) -> bool:
        logger: logging.Logger | None = LOGGER
        while logger is not None:
            if any(handler is not self for handler in logger.handlers):
                return True
            if not logger.propagate:
                return False
            logger = logger.parent
        return False


_fallback = _UnlessConfigured()


def set_enabled(enabled: bool) -> None:
    """Turn tracing on or off at run time (tests; a CLI ``--trace`` flag)."""
    global ENABLED
    ENABLED = enabled
    if enabled and LOGGER.level == logging.NOTSET:
        LOGGER.setLevel(logging.DEBUG)
    if enabled and _fallback not in LOGGER.handlers:
        LOGGER.addHandler(_fallback)


if ENABLED:
    set_enabled(True)


def log_frame(
    container_id: str, direction: str, channel: int, body: Any, payload_size: int = 0
) -> None:
    """Log one frame. ``direction`` is ``"->"`` (sent) or ``"<-"`` (received); ``body`` is
    the decoded performative or ``None`` for a heartbeat."""
    if body is None:
        LOGGER.debug("[%s] %s heartbeat", container_id, direction)
    elif payload_size:
        LOGGER.debug(
            "[%s] %s @%d %r (%d payload bytes)", container_id, direction, channel, body, payload_size
        )
    else:
        LOGGER.debug("[%s] %s @%d %r", container_id, direction, channel, body)


def log_header(container_id: str, direction: str, header: bytes) -> None:
    """Log a protocol header."""
    LOGGER.debug("[%s] %s header %r", container_id, direction, header)
