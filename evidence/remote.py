"""Evidence stores on another node: any Kubo-RPC node over httpx, or a real Kubo via ipfshttpclient.

Both compute every CID locally first (hash only, same profile) and refuse an add whose CID the
node reports differently; both read content as verified blocks (`block/get`), so a node cannot
return bytes that do not match the CID asked for.

ipfshttpclient 0.7's `connect()` refuses Kubo >= 0.8 in a version check. Its documentation
says to instantiate `ipfshttpclient.Client` directly to skip that check, which is what
`KuboStore` does; it then reads `/version` itself and only logs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from hashlib import sha256
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlsplit

import httpx
import structlog

from evidence.cids import cid_str, digest_of, parse_cid
from evidence.errors import (
    BadRequest,
    BlockNotFound,
    CidMismatch,
    CorruptBlock,
    EvidenceError,
    RemoteError,
    UploadTooLarge,
)
from evidence.importer import PROFILES, Profile, get_profile, import_bytes, import_path, import_tree
from evidence.store import ReadMixin

log = structlog.get_logger(__name__)


def add_options(profile: Profile, *, pin: bool, wrap: bool = False) -> dict[str, str]:
    """Kubo's `add` options for a profile; a named preset also goes as `profile`, which our node
    uses (for the 1024-link layout) and Kubo ignores."""
    options = {
        "cid-version": str(profile.cid_version),
        "raw-leaves": "true" if profile.raw_leaves else "false",
        "chunker": f"size-{profile.chunk_size}",
        "pin": "true" if pin else "false",
        "wrap-with-directory": "true" if wrap else "false",
    }
    if PROFILES.get(profile.name) == profile:
        options["profile"] = profile.name
    return options


def _check_add(expected: bytes, reported: str, what: str) -> str:
    if digest_of(parse_cid(reported)) != digest_of(expected):
        raise CidMismatch(
            f"the node stored {what} as {reported}, but the local importer computes {cid_str(expected)}; "
            "its import settings differ from this profile"
        )
    return cid_str(expected)


def _verified(cid: bytes, block: bytes) -> bytes:
    if sha256(block).digest() != digest_of(cid):
        raise CorruptBlock(f"the node returned bytes for {cid_str(cid)} that do not hash to it; refused")
    return block


def _walk_parts(path: Path, hidden: bool) -> list[tuple[str, Path | None]]:
    """(relative name, file or None for a directory) in the order a Kubo client uploads them."""
    top = path.resolve().name
    parts: list[tuple[str, Path | None]] = [(top, None)]
    for root, dirs, files in os.walk(path):
        dirs.sort()
        if not hidden:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(root).relative_to(path)
        base = top if str(rel) == "." else f"{top}/{rel.as_posix()}"
        for d in dirs:
            if Path(root, d).is_symlink():
                raise BadRequest(f"{Path(root, d)}: symlinks cannot be uploaded over HTTP")
            parts.append((f"{base}/{d}", None))
        for f in sorted(files):
            if not hidden and f.startswith("."):
                continue
            full = Path(root, f)
            if full.is_symlink():
                raise BadRequest(f"{full}: symlinks cannot be uploaded over HTTP")
            parts.append((f"{base}/{f}", full))
    return parts


class _SpooledStreams:
    """Remote adds need the CID before sending, so a stream is spooled to a temp file and added as a path."""

    def add_path(self, path: str | os.PathLike, *, pin: bool = True, hidden: bool = False) -> str:
        raise NotImplementedError

    def add_stream(self, stream: BinaryIO, name: str = "", *, pin: bool = True) -> str:
        with tempfile.NamedTemporaryFile(prefix="tambon-evidence-") as tmp:
            shutil.copyfileobj(stream, tmp, 1 << 20)
            tmp.flush()
            return self.add_path(tmp.name, pin=pin)


def bearer_header(token: str | None) -> dict[str, str] | None:
    """What every client of a node with `TAMBON_EVIDENCE_API_TOKEN` sends (Kubo's API.Authorizations)."""
    return {"Authorization": f"Bearer {token}"} if token else None


def node_health(url: str) -> str:
    """One line on the Kubo-RPC node at `url`, asked with this host's token (the stack's health check)."""
    from evidence.settings import get_evidence_settings

    response = httpx.post(
        f"{url}/api/v0/version", timeout=2, headers=bearer_header(get_evidence_settings().token)
    )
    if response.status_code == 401:  # up, but it wants the token this host lacks or has wrong
        return "IPFS API refuses this host's TAMBON_EVIDENCE_API_TOKEN (401)"
    response.raise_for_status()
    return f"IPFS API {response.json().get('Version', '?')}"


class RpcStore(_SpooledStreams, ReadMixin):
    """A Kubo-RPC node over HTTP: `tambon evidence serve` or a Kubo daemon's API port."""

    def __init__(
        self,
        api_url: str,
        profile: str | Profile | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        token: str | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.profile = get_profile(profile)
        headers = bearer_header(token)
        self.http = httpx.Client(
            base_url=f"{self.api_url}/api/v0", timeout=timeout, transport=transport, headers=headers
        )

    def __repr__(self) -> str:
        return f"RpcStore({self.api_url!r}, profile={self.profile.name!r})"

    def close(self) -> None:
        self.http.close()

    def _post(self, command: str, params: Mapping[str, str] | None = None, **kwargs) -> httpx.Response:
        try:
            response = self.http.post(command, params=params, **kwargs)
        except httpx.HTTPError as exc:
            raise RemoteError(f"evidence node {self.api_url} unreachable: {exc}") from exc
        if response.status_code >= 400:
            try:
                message = response.json().get("Message", response.text)
            except (json.JSONDecodeError, AttributeError):
                message = response.text
            status = response.status_code
            if status == 404 or "not found" in message:
                raise BlockNotFound(message)
            if status == 413:
                raise UploadTooLarge(message)
            if status == 400:
                raise BadRequest(message)
            if "corrupt" in message:
                raise CorruptBlock(message)
            raise RemoteError(f"evidence node {self.api_url}: {status} {message}")
        return response

    def version(self) -> str:
        return self._post("/version").json()["Version"]

    def _add(self, files: list, *, pin: bool, wrap: bool = False) -> str:
        response = self._post("/add", add_options(self.profile, pin=pin, wrap=wrap), files=files)
        lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
        if not lines or "Hash" not in lines[-1]:
            raise RemoteError(f"unexpected add response from {self.api_url}: {response.text[:200]!r}")
        return lines[-1]["Hash"]

    def add_bytes(self, data: bytes, name: str = "", *, pin: bool = True) -> str:
        expected = import_bytes(data, self.profile).cid
        reported = self._add(
            [("file", (quote(name or "blob", safe=""), data, "application/octet-stream"))], pin=pin
        )
        return _check_add(expected, reported, "the bytes")

    def add_path(self, path: str | os.PathLike, *, pin: bool = True, hidden: bool = False) -> str:
        p = Path(path)
        expected = import_path(p, self.profile, hidden=hidden).cid
        with contextlib.ExitStack() as stack:
            files: list[tuple[str, tuple[str, bytes | BinaryIO, str]]]
            if p.is_dir():
                files = []
                for name, file in _walk_parts(p, hidden):
                    if file is None:
                        files.append(("file", (quote(name, safe=""), b"", "application/x-directory")))
                    else:
                        handle = stack.enter_context(open(file, "rb"))
                        files.append(("file", (quote(name, safe=""), handle, "application/octet-stream")))
            else:
                handle = stack.enter_context(open(p, "rb"))
                files = [("file", (quote(p.name, safe=""), handle, "application/octet-stream"))]
            reported = self._add(files, pin=pin)
        return _check_add(expected, reported, str(path))

    def add_tree(self, files: Mapping[str, bytes | str | os.PathLike], *, pin: bool = True) -> str:
        expected = import_tree(files, self.profile).cid
        with contextlib.ExitStack() as stack:
            parts = []
            for name, content in files.items():
                body = content if isinstance(content, bytes) else stack.enter_context(open(content, "rb"))
                parts.append(("file", (quote(name, safe=""), body, "application/octet-stream")))
            reported = self._add(parts, pin=pin, wrap=True)
        return _check_add(expected, reported, "the directory")

    def get_block(self, cid: str | bytes) -> bytes:
        raw = parse_cid(cid) if isinstance(cid, str) else cid
        return _verified(raw, self._post("/block/get", {"arg": cid_str(raw)}).content)

    def pin(self, cid: str) -> None:
        self._post("/pin/add", {"arg": cid})

    def unpin(self, cid: str) -> None:
        self._post("/pin/rm", {"arg": cid})

    def pins(self) -> list[str]:
        return sorted(self._post("/pin/ls", {"type": "recursive"}).json().get("Keys", {}))


def url_to_multiaddr(url: str) -> str:
    """`http://127.0.0.1:5001` -> `/ip4/127.0.0.1/tcp/5001/http` (what ipfshttpclient takes)."""
    if url.startswith("/"):
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"not an http(s) URL: {url!r}")
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if host.replace(".", "").isdigit():
        proto = "ip4"
    elif ":" in host:
        proto = "ip6"
    else:
        proto = "dns"
    return f"/{proto}/{host}/tcp/{port}/{parts.scheme}"


class KuboStore(_SpooledStreams, ReadMixin):
    """A real Kubo node (or pinning service with the Kubo RPC) through `ipfshttpclient`."""

    def __init__(
        self,
        api_url: str,
        profile: str | Profile | None = None,
        *,
        timeout: float = 60.0,
        token: str | None = None,
    ) -> None:
        import ipfshttpclient

        self.api_url = api_url
        self.profile = get_profile(profile)
        self._errors = ipfshttpclient.exceptions
        # Documented way to skip the client's version check (see the module docstring).
        self.client = ipfshttpclient.Client(
            url_to_multiaddr(api_url), timeout=timeout, headers=bearer_header(token) or {}
        )

    def __repr__(self) -> str:
        return f"KuboStore({self.api_url!r}, profile={self.profile.name!r})"

    def close(self) -> None:
        self.client.close()

    @contextlib.contextmanager
    def _calls(self):
        try:
            yield
        except EvidenceError:
            raise
        except self._errors.ErrorResponse as exc:
            message = str(exc)
            if "not found" in message or "could not find" in message:
                raise BlockNotFound(message) from exc
            raise RemoteError(f"Kubo at {self.api_url}: {message}") from exc
        except self._errors.Error as exc:
            raise RemoteError(f"Kubo at {self.api_url}: {exc}") from exc

    def version(self) -> str:
        with self._calls():
            return self.client.version()["Version"]

    def _opts(self, pin: bool) -> dict:
        return {
            "cid_version": self.profile.cid_version,
            "raw_leaves": self.profile.raw_leaves,
            "chunker": f"size-{self.profile.chunk_size}",
            "pin": pin,
        }

    def add_bytes(self, data: bytes, name: str = "", *, pin: bool = True) -> str:
        expected = import_bytes(data, self.profile).cid
        opts = {k: v for k, v in add_options(self.profile, pin=pin).items() if k != "profile"}
        with self._calls():
            reported = self.client.add_bytes(data, opts=opts)
        return _check_add(expected, reported, "the bytes")

    def add_path(self, path: str | os.PathLike, *, pin: bool = True, hidden: bool = False) -> str:
        p = Path(path)
        expected = import_path(p, self.profile, hidden=hidden).cid
        with self._calls():
            if p.is_dir():
                result = self.client.add(
                    str(p), recursive=True, pattern=None if hidden else "**", **self._opts(pin)
                )
                reported = result[-1]["Hash"]
            else:
                reported = self.client.add(str(p), **self._opts(pin))["Hash"]
        return _check_add(expected, reported, str(path))

    def add_tree(self, files: Mapping[str, bytes | str | os.PathLike], *, pin: bool = True) -> str:
        with tempfile.TemporaryDirectory(prefix="tambon-bundle-") as tmp:
            root = Path(tmp, "bundle")
            for name, content in files.items():
                target = root.joinpath(*name.split("/"))
                target.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    target.write_bytes(content)
                else:
                    shutil.copyfile(content, target)
            expected = import_tree(files, self.profile).cid
            with self._calls():
                result = self.client.add(str(root), recursive=True, **self._opts(pin))
            reported = result[-1]["Hash"]
        return _check_add(expected, reported, "the directory")

    def get_block(self, cid: str | bytes) -> bytes:
        raw = parse_cid(cid) if isinstance(cid, str) else cid
        with self._calls():
            return _verified(raw, self.client.block.get(cid_str(raw)))

    def pin(self, cid: str) -> None:
        with self._calls():
            self.client.pin.add(cid)

    def unpin(self, cid: str) -> None:
        with self._calls():
            self.client.pin.rm(cid)

    def pins(self) -> list[str]:
        with self._calls():
            return sorted(self.client.pin.ls(type="recursive")["Keys"])


def open_store(settings=None, *, profile: str | None = None):
    """The store the settings name: local (default), rpc or kubo."""
    from evidence.settings import get_evidence_settings
    from evidence.store import LocalStore
    from tambon.settings import get_settings

    ev = settings or get_evidence_settings()
    chosen = profile or ev.profile
    if ev.backend == "local":
        return LocalStore(ev.resolved_store_dir, chosen, fsync=ev.fsync)
    api = get_settings().evidence_api_url
    if ev.backend == "rpc":
        return RpcStore(api, chosen, timeout=ev.timeout, token=ev.token)
    return KuboStore(api, chosen, timeout=ev.timeout, token=ev.token)
