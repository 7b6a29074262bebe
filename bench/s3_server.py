"""moto's S3 in a process of its own, so a benchmark's memory figures are of our code alone.

``moto.server.ThreadedMotoServer`` needs flask, which the project does not install; this serves the same
moto S3 backend through moto's own request router (the one its proxy mode uses), on plain HTTP::

    python bench/s3_server.py    # prints "moto S3 listening on http://127.0.0.1:PORT"; serves until killed

Point boto3 at it with ``endpoint_url`` (or ``AWS_ENDPOINT_URL``). moto keeps objects above 1 MiB in
spooled temporary files, so even a million-row report stays modest here too, but it is not our memory.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.moto_proxy.proxy3 import MotoRequestHandler

_AWS_HOST = "https://s3.amazonaws.com"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    router: MotoRequestHandler

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers (e.g. a checksum), then the blank line
                pass
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        body = self._body()
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        headers["Host"] = _AWS_HOST.removeprefix("https://")
        try:
            answer = self.router.parse_request(self.command, _AWS_HOST, self.path, headers, body)
        except Exception as exc:  # a moto HTTPException carries its own status and body
            code = getattr(exc, "code", 500)
            payload = getattr(exc, "description", str(exc))
            answer = (code if isinstance(code, int) else 500, {}, str(payload))
        status, out_headers, out_body = answer if isinstance(answer, tuple) else (200, {}, answer)
        data = out_body.encode() if isinstance(out_body, str) else (out_body or b"")
        out = {
            str(k).lower(): v.decode() if isinstance(v, bytes) else str(v)
            for k, v in dict(out_headers).items()
        }
        # A HEAD answer keeps moto's Content-Length (the object's size) and has no body.
        length = out.pop("content-length", "0") if self.command == "HEAD" else str(len(data))
        self.send_response(int(status))
        for name, value in out.items():
            if name not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", length)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: any free one)")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _Handler)
    server.daemon_threads = True
    _Handler.router = MotoRequestHandler(server.server_address[1])
    print(f"moto S3 listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
