"""A local HTTP server standing in for the Hugging Face hub, and tiny valid GGUF files to serve.

It answers what huggingface_hub asks (see studio.models.hub): ``HEAD /{repo}/resolve/{rev}/{file}`` with
``X-Repo-Commit``, ``X-Linked-Etag``/``X-Linked-Size`` and a 302 to a second server standing in for the CDN
(LFS files) or the bytes' git ``ETag`` (plain files); ``GET`` with ``Range`` on either; and
``/api/models/{repo}/revision/{rev}`` listing the files. A file can be served truncated (the connection
closes after ``cut`` bytes, as a broken network does) or announced with a wrong checksum.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def write_tiny_gguf(path: Path, megabytes: int = 3, chat: bool = True) -> Path:
    """A valid llama-architecture GGUF of about ``megabytes`` MB (F32 weights), with the keys the fit
    estimate reads."""
    import numpy as np
    from gguf import GGUFWriter

    writer = GGUFWriter(str(path), "llama")
    writer.add_name("Tiny Stand-in")
    writer.add_context_length(2048)
    writer.add_embedding_length(64)
    writer.add_block_count(2)
    writer.add_head_count(4)
    writer.add_head_count_kv(2)
    writer.add_file_type(0)
    writer.add_string("general.license", "mit")
    if chat:
        writer.add_chat_template("{% for m in messages %}{{ m.content }}{% endfor %}")
    rows = megabytes * 1024 * 1024 // (4 * 256)
    writer.add_tensor("token_embd.weight", np.arange(rows * 256, dtype=np.float32).reshape(rows, 256))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class HubFile:
    """One file of a repo: ``data`` is the real content; ``cut`` makes the next ``cut_times`` GETs stop after
    that many bytes; ``announced_sha256`` overrides the checksum the hub announces."""

    data: bytes
    lfs: bool = True
    cut: int | None = None
    cut_times: int = 1
    announced_sha256: str | None = None
    ignore_range: bool = False  # answer a Range request with the whole file (200), as some CDNs do
    pause_at: int | None = None  # the first GET stops sending here until ``release`` is set
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def sha256(self) -> str:
        return self.announced_sha256 or hashlib.sha256(self.data).hexdigest()


@dataclass
class HubStandIn:
    """Two servers on loopback: the hub (``endpoint``) and its CDN; ``requests`` logs (method, path, range)."""

    files: dict[tuple[str, str], HubFile] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def start(self) -> HubStandIn:
        self._hub = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(cdn=False))
        self._cdn = ThreadingHTTPServer(("127.0.0.1", 0), self._handler(cdn=True))
        for server in (self._hub, self._cdn):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for server in (self._hub, self._cdn):
            server.shutdown()
            server.server_close()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._hub.server_address[1]}"

    @property
    def cdn(self) -> str:
        return f"http://127.0.0.1:{self._cdn.server_address[1]}"

    def gets(self, filename: str) -> list[str]:
        """The Range headers of the GETs of ``filename`` so far ("" for none)."""
        return [
            rng for method, path, rng in self.requests if method == "GET" and path.endswith("/" + filename)
        ]

    def _handler(self, cdn: bool) -> type[BaseHTTPRequestHandler]:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._answer(body=False)

            def do_GET(self) -> None:
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                path = unquote(urlparse(self.path).path)
                stand_in.requests.append((self.command, path, self.headers.get("Range", "")))
                if path.startswith("/api/models/") and not cdn:
                    self._api(path)
                    return
                found = self._find(path)
                if found is None:
                    self._send(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT}, b"not found")
                    return
                (repo, filename), item = found
                headers = {"X-Repo-Commit": COMMIT}
                if item.lfs and not cdn:
                    headers.update(
                        {
                            "X-Linked-Etag": f'"{item.sha256}"',
                            "X-Linked-Size": str(len(item.data)),
                            "ETag": f'"{git_blob_sha1(b"pointer")}"',
                            "Location": f"{stand_in.cdn}/repos/{repo}/{filename}",
                        }
                    )
                    self._send(302, headers, b"")
                    return
                if not item.lfs:
                    headers["ETag"] = f'"{git_blob_sha1(item.data)}"'
                else:
                    headers["ETag"] = f'"{item.sha256}"'
                data = item.data
                start = 0
                requested = self.headers.get("Range", "")
                if requested.startswith("bytes=") and requested.endswith("-") and not item.ignore_range:
                    start = int(requested[6:-1])
                if not body:
                    self._send(200, headers | {"Content-Length": str(len(data))}, b"", length_given=True)
                    return
                payload = data[start:]
                status = 206 if start else 200
                if start:
                    headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
                headers["Content-Length"] = str(len(payload))
                if item.cut is not None and item.cut_times > 0:
                    item.cut_times -= 1
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(payload[: max(item.cut - start, 0)])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if item.pause_at is not None and start < item.pause_at:
                    pause, item.pause_at = item.pause_at - start, None
                    self._send(status, headers, payload[:pause], length_given=True)
                    self.wfile.flush()
                    item.release.wait(60)
                    with contextlib.suppress(OSError):  # the client may have gone away (a cancel)
                        self.wfile.write(payload[pause:])
                    return
                self._send(status, headers, payload, length_given=True)

            def _find(self, path: str) -> tuple[tuple[str, str], HubFile] | None:
                for (repo, filename), item in stand_in.files.items():
                    hub_path = f"/{repo}/resolve/"
                    if cdn and path == f"/repos/{repo}/{filename}":
                        return (repo, filename), item
                    if not cdn and path.startswith(hub_path) and path.endswith("/" + filename):
                        return (repo, filename), item
                return None

            def _api(self, path: str) -> None:
                repo = path[len("/api/models/") :].split("/revision/")[0]
                siblings = []
                for (owner_repo, filename), item in stand_in.files.items():
                    if owner_repo != repo:
                        continue
                    sibling: dict[str, object] = {
                        "rfilename": filename,
                        "size": len(item.data),
                        "blobId": git_blob_sha1(item.data),
                    }
                    if item.lfs:
                        sibling["lfs"] = {"sha256": item.sha256, "size": len(item.data), "pointerSize": 134}
                    siblings.append(sibling)
                if not siblings:
                    self._send(404, {"X-Error-Code": "RepoNotFound"}, b'{"error": "Repository not found"}')
                    return
                body = json.dumps({"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings}).encode()
                self._send(200, {"Content-Type": "application/json"}, body)

            def _send(
                self, status: int, headers: dict[str, str], body: bytes, length_given: bool = False
            ) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if not length_given:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

        return Handler


def write_safetensors(
    path: Path, tensors: dict[str, tuple[str, list[int]]], metadata: dict[str, str] | None = None
) -> Path:
    """A header-valid ``.safetensors`` file of zero weights: ``tensors`` maps names to (dtype, shape)."""
    import struct

    sizes = {"F32": 4, "F16": 2, "BF16": 2}
    header: dict[str, object] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        count = sizes[dtype]
        for dim in shape:
            count *= dim
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + count]}
        offset += count
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + bytes(offset))
    return path


def write_tiny_taesd(folder: Path) -> Path:
    """A tiny random-weight TAESD folder (``AutoencoderTiny`` with 4 latent channels and 8-channel blocks,
    ``save_pretrained``: config.json and diffusion_pytorch_model.safetensors), written in a child process so
    the test process never imports torch."""
    import subprocess
    import sys

    script = (
        "import sys; from pathlib import Path; from studio.testing.tiny_diffusion import save_tiny_taesd; "
        "save_tiny_taesd(Path(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(folder)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    return folder


def taesd_files(folder: Path, repo: str = "madebyollin/taesd") -> dict[tuple[str, str], HubFile]:
    """The stand-in hub's files of a TAESD repository: ``config.json`` as a plain git file, the weights via
    the CDN (LFS), as on the hub."""
    return {
        (repo, "config.json"): HubFile((folder / "config.json").read_bytes(), lfs=False),
        (repo, "diffusion_pytorch_model.safetensors"): HubFile(
            (folder / "diffusion_pytorch_model.safetensors").read_bytes()
        ),
    }
