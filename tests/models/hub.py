"""A local stand-in for the Hugging Face Hub, on 127.0.0.1.

It answers what huggingface-hub asks the Hub when glmv pulls:
- `GET /api/models/{owner}/{repo}/revision/{revision}?blobs=True` (`model_info` with
  `files_metadata`): the repo's commit and its files, each with size, blob id and LFS
  metadata (size, sha256), as the Hub lists them;
- `HEAD/GET /{owner}/{repo}/resolve/{revision}/{path}`, as the Hub serves LFS files
  (X-Repo-Commit, X-Linked-Etag with the sha256, X-Linked-Size, Range requests);
- 404s with the Hub's X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound);
so huggingface-hub runs its real listing and download code against it.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"
REVISIONS = ("main", COMMIT)  # what the fake repos answer to


@dataclass
class FakeHub:
    files: dict[str, bytes] = field(default_factory=dict)  # "owner/repo/path" -> bytes
    drop_after: int | None = None  # GET: close the connection after this many bytes, once
    stall_after: int | None = None  # GET: send this many bytes, then wait for `release`
    release: threading.Event = field(default_factory=threading.Event)
    stalled: threading.Event = field(default_factory=threading.Event)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    # "owner/repo/path" -> the sha256 the listing claims instead of the true one
    listed_sha256: dict[str, str] = field(default_factory=dict)
    url: str = ""

    def add(self, repo: str, path: str, data: bytes) -> str:
        self.files[f"{repo}/{path}"] = data
        return hashlib.sha256(data).hexdigest()

    def listing(self, repo: str) -> dict | None:
        """The Hub's `model_info` answer for `repo`, with files metadata (None: no repo)."""
        prefix = repo + "/"
        siblings = []
        for key, data in self.files.items():
            if not key.startswith(prefix):
                continue
            sha = self.listed_sha256.get(key, hashlib.sha256(data).hexdigest())
            siblings.append({
                "rfilename": key[len(prefix):], "size": len(data),
                "blobId": hashlib.sha1(data).hexdigest(),
                "lfs": {"size": len(data), "sha256": sha, "pointerSize": 134},
            })
        if not siblings:
            return None
        return {"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                "siblings": siblings}


def serve(hub: FakeHub) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _lookup(self) -> bytes | None:
            m = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", self.path)
            if not m:
                return None
            return hub.files.get(f"{m.group(1)}/{m.group(3)}")

        def _headers(self, data: bytes, status: int, length: int, extra: dict) -> None:
            self.send_response(status)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("X-Linked-Etag", '"' + hashlib.sha256(data).hexdigest() + '"')
            self.send_header("X-Linked-Size", str(len(data)))
            self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(length))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()

        def _not_found(self, code: str = "EntryNotFound") -> None:
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _api(self) -> bool:
            """Answer `GET /api/models/…/revision/…`; False if the path is not one."""
            m = re.fullmatch(r"/api/models/([^/]+/[^/?]+)(?:/revision/([^/?]+))?(\?.*)?",
                             self.path)
            if not m:
                return False
            listing = hub.listing(m.group(1))
            if listing is None:
                self._not_found("RepoNotFound")
            elif (m.group(2) or "main") not in REVISIONS:
                self._not_found("RevisionNotFound")
            else:
                body = json.dumps(listing).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            return True

        def do_HEAD(self) -> None:
            hub.requests.append(("HEAD", self.path, None))
            data = self._lookup()
            if data is None:
                return self._not_found()
            self._headers(data, 200, len(data), {})

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            hub.requests.append(("GET", self.path, rng))
            if self._api():
                return
            data = self._lookup()
            if data is None:
                return self._not_found()
            start = 0
            if rng:
                start = int(re.match(r"bytes=(\d+)-", rng).group(1))
            body = data[start:]
            extra = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"} if rng \
                else {}
            self._headers(data, 206 if rng else 200, len(body), extra)
            if hub.drop_after is not None and len(body) > hub.drop_after:
                cut, hub.drop_after = hub.drop_after, None
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            if hub.stall_after is not None and len(body) > hub.stall_after:
                cut, hub.stall_after = hub.stall_after, None
                self.wfile.write(body[:cut])
                self.wfile.flush()
                hub.stalled.set()
                hub.release.wait(30)
                return
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
