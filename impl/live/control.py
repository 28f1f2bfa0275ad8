"""The local control socket of a live process: one JSON object per line, each way.

A request is ``{"op": NAME, ...}``; the answer is ``{"ok": true, ...}`` or
``{"ok": false, "error": TEXT}``. The server is a Unix-domain socket at a path (a
path, not an abstract name, so a process in another network namespace reaches it
through the file system). A malformed request gets an error answer; it never
stops the process. :func:`request` is the blocking client that ``vpnha show`` and
the lab controller use.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Final

__all__ = ["ControlError", "ControlServer", "Handler", "request"]

MAX_LINE: Final = 1 << 20
"""Longest request line accepted, octets."""

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]] | dict[str, Any]]
"""Answers one request (may be a coroutine function)."""


class ControlError(RuntimeError):
    """The control socket could not be reached or answered with an error."""


class ControlServer:
    """A Unix-socket JSON-lines server around one handler."""

    def __init__(self, path: str, handler: Handler) -> None:
        self._path = path
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None

    @property
    def path(self) -> str:
        """The socket's path."""
        return self._path

    async def start(self) -> None:
        """Listen (a stale socket file from a dead process is replaced)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)
        self._server = await asyncio.start_unix_server(self._serve, path=self._path, limit=MAX_LINE)

    async def close(self) -> None:
        """Stop listening and remove the socket file."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(json.dumps(await self._answer(line)).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            # The process is shutting down: end quietly (Python 3.11's stream callback
            # would report a cancelled handler task as an error).
            pass
        finally:
            writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            message = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            return {"ok": False, "error": f"request is not JSON: {error}"}
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            return {"ok": False, "error": 'request must be an object with a string "op"'}
        try:
            answer = self._handler(message)
            if not isinstance(answer, dict):
                answer = await answer
        except (KeyError, TypeError, ValueError) as error:
            return {"ok": False, "error": f"{message['op']}: {type(error).__name__}: {error}"}
        return answer


def request(path: str, message: dict[str, Any], *, timeout_s: float = 5.0) -> dict[str, Any]:
    """Send one request to the control socket at ``path``; its answer (raises ControlError)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(path)
            sock.sendall(json.dumps(message).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                data += chunk
    except OSError as error:
        msg = f"control socket {path}: {error.strerror or error}"
        raise ControlError(msg) from error
    try:
        answer = json.loads(data)
    except json.JSONDecodeError as error:
        msg = f"control socket {path}: answer is not JSON ({len(data)} octets)"
        raise ControlError(msg) from error
    if not isinstance(answer, dict):
        msg = f"control socket {path}: answer is not an object"
        raise ControlError(msg)
    if not answer.get("ok", False):
        msg = f"control socket {path}: {answer.get('error', 'request refused')}"
        raise ControlError(msg)
    return answer
