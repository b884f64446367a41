"""A loopback Ollama server whose /api/chat streams a few NDJSON chunks and then drops the connection."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class BrokenOllama:
    """Streams `chunks` (one every `delay` seconds) as Ollama's /api/chat does, then breaks the chunked body."""

    def __init__(self, chunks: list[str], delay: float = 0.4) -> None:
        self.chunks = chunks
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="fake-ollama", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> BrokenOllama:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _chunk(model: str, text: str) -> bytes:
    line = json.dumps({"model": model, "created_at": "2025-10-02T10:00:00Z",
                       "message": {"role": "assistant", "content": text}, "done": False}, ensure_ascii=False)  # fmt: skip
    data = (line + "\n").encode()
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _handler(fake: BrokenOllama) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            fake.requests.append(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for text in fake.chunks:
                self.wfile.write(_chunk(body.get("model", "m"), text))
                self.wfile.flush()
                time.sleep(fake.delay)
            self.close_connection = True  # no terminating chunk, no {"done": true}: the stream breaks

    return Handler
