"""The request loop of a worker process."""

from __future__ import annotations

import socket

from .. import protocol
from ..vocabulary import Op
from .core import WorkerCore


def serve(sock: socket.socket, core: WorkerCore) -> None:
    """Answer requests until the judge hangs up or says ``bye``."""
    while True:
        try:
            message, blobs = protocol.recv(sock)
        except (EOFError, OSError):
            return
        if message.get("op") == Op.BYE:
            return
        reply, out_blobs = core.handle(message, blobs)
        try:
            protocol.send(sock, reply, out_blobs)
        except ValueError:
            # A reply JSON could not encode (should not happen); say so.
            protocol.send(
                sock,
                {
                    "error": {
                        "kind": "error",
                        "type": "ProtocolError",
                        "message": "reply could not be encoded",
                        "where": [],
                    }
                },
                [],
            )
        except OSError:
            return
