"""Evidence as the verify site sees it: fetch a CID's CAR from the gateway, prove it, remember the proof.

The gateway is not trusted: every CAR is checked block by block against the on-chain CID with
`evidence.verify.verify_car`. A proof is kept for `recheck_seconds`, then the CID is fetched and
proven again: evidence that stops being served (store down, block lost or corrupted) shows as
"unavailable since …" within that time on every worker, not as a stale pass. A failed fetch (store
down, CID not found) or a proven mismatch is remembered for `retry_seconds` so a dead store is not
hammered. Every proof says when it was checked.

Pages rendered from proofs stay cached while the outcomes of their own proofs stand: re-proving
happens off the request path (`refresh`, for the CIDs of a page served from cache), and a page is
kept under the `outcomes_tag` of the outcomes it shows, looked up under the tag of the outcomes this
service knows now (`current_tag`). A lot's page is rendered again because its evidence changed, not
because a clock ticked or another lot's evidence changed. Outcomes are remembered for the
`max_outcomes` most recently proven CIDs; a forgotten one has no outcome, so the pages showing it are
rendered (and their proofs made) again.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from urllib.parse import quote

import httpx
import structlog
from PIL import Image, ImageOps

from evidence import dag
from evidence.bundle import RECORD_NAME, build_bundle, open_bundle
from evidence.errors import EvidenceError
from evidence.remote import RpcStore
from evidence.verify import VerifiedCar, verify_car
from frontend.errors import BadInput, NotFound, UnsupportedMedia, UploadRejected, Upstream
from frontend.services.cache import Expiring, Lru
from tambon.cid import OnchainCid, cid_string

log = structlog.get_logger(__name__)

PASS, FAIL, UNKNOWN = "pass", "fail", "unknown"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif")
#: widths (CSS pixels x device pixel ratios 1, 2, 4 of a 96 px tile) the site makes thumbnails at
THUMB_WIDTHS = (96, 192, 384)
#: widths of a lot's cover banner (960 x 220 CSS pixels at most: half, 1x, 2x), and its aspect
COVER_WIDTHS = (480, 960, 1920)
COVER_ASPECT = 220 / 960
#: largest evidence photo the site decodes for a thumbnail (pixels), against decompression bombs
MAX_THUMB_SOURCE_PIXELS = 50_000_000

#: Types an evidence upload may contain, by their leading bytes (the browser's Content-Type is not trusted).
UPLOAD_TYPES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
}
_SAFE_NAME = re.compile(r"[^A-Za-z0-9ก-๙._-]+")


@dataclass(frozen=True, slots=True)
class FileRef:
    name: str
    size: int
    url: str
    is_image: bool
    thumb: str = ""  # the site's thumbnail route of an image (`?w=` one of THUMB_WIDTHS)


@dataclass(frozen=True, slots=True)
class Proof:
    """What the site proved about one CID."""

    cid: str
    status: str  # pass | fail | unknown
    detail: str
    kind: str = ""  # file | directory
    files: tuple[FileRef, ...] = ()
    record: Mapping | None = None  # record.json of a bundle, or the JSON document of a file CID
    size: int = 0
    url: str = ""
    text: str | None = None  # a short plain-text file (a council's rejection reason)
    checked_at: float = 0.0  # unix time of the fetch this proof comes from
    unavailable_since: float = 0.0  # first failed re-check of evidence that had been proven


def outcomes_tag(shown: Mapping[str, str]) -> str:
    """A short digest of CIDs and their proof outcomes: what a page rendered from those proofs is kept
    under, so that it is looked up again only while every one of them stands."""
    text = "\n".join(f"{cid} {status}" for cid, status in sorted(shown.items()))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass
class EvidenceService:
    gateway_url: str
    api_url: str
    max_bytes: int = 64 * 1024 * 1024
    retry_seconds: float = 30.0
    #: a proven CID is proven again after this many seconds (bounded staleness of a pass)
    recheck_seconds: float = 20.0
    timeout: float = 20.0
    #: bearer token of the evidence node's RPC, when it requires one
    api_token: str | None = None
    #: CIDs whose last proven outcome and time are remembered (what keys the pages showing them, and
    #: when a re-check is due): more than the pages a worker caches show (~8 CIDs a lot, 10,000 lots)
    max_outcomes: int = 131_072
    _proved: Lru[Proof] = field(default_factory=lambda: Lru(8192))
    #: (cid, path, (width, height)) -> WebP bytes; content-addressed, so never stale
    _thumbs: Lru[bytes] = field(default_factory=lambda: Lru(2048))
    _failed: Expiring[Proof] = field(init=False)

    def __post_init__(self) -> None:
        self._failed = Expiring(self.retry_seconds)
        self._http = httpx.Client(timeout=self.timeout)
        self._unavailable_since: dict[str, float] = {}
        self._lock = threading.Lock()
        #: cid -> the status it was last proven with, least recently proven first
        self._outcomes: OrderedDict[str, str] = OrderedDict()
        #: cid -> when the worker that rendered a page this one adopted last proved it (unix time)
        self._adopted_checks: dict[str, float] = {}
        #: cid -> when this service last proved it (unix time), kept after its proof leaves `_proved`:
        #: else a cached page showing it would have it re-proven on every serve
        self._proven_at: OrderedDict[str, float] = OrderedDict()
        self._refreshing: set[str] = set()
        self._refresher = ThreadPoolExecutor(max_workers=2, thread_name_prefix="evidence-recheck")
        self._collecting = threading.local()

    def current_tag(self, cids: Iterable[str]) -> str:
        """`outcomes_tag` of the outcomes this service knows now for `cids` (none for a CID it never
        proved, adopted or has forgotten): a page shown from those proofs is current when it was kept
        under this tag."""
        with self._lock:
            return outcomes_tag({cid: self._outcomes.get(cid, "") for cid in cids})

    @contextmanager
    def collecting(self) -> Iterator[dict[str, str]]:
        """The CIDs proven in this thread inside the block, each with the status it was proven with
        (what a rendered page depends on and shows)."""
        shown: dict[str, str] = {}
        self._collecting.cids = shown
        try:
            yield shown
        finally:
            self._collecting.cids = None

    def refresh(self, cids: Iterable[str]) -> None:
        """Prove again, in the background, each of `cids` whose proof is older than `recheck_seconds`
        (one re-check per CID at a time); the request that asks does not wait for it."""
        now = time.time()
        for cid in cids:
            if now - self.checked_at(cid) < self.recheck_seconds:
                continue
            if self._failed.get(cid) is not None:
                continue  # a failure is retried after `retry_seconds`, not sooner
            with self._lock:
                if cid in self._refreshing:
                    continue
                self._refreshing.add(cid)
            self._refresher.submit(self._recheck, cid)

    def _recheck(self, cid: str) -> None:
        try:
            self.prove(cid)
        except Exception as exc:  # a background re-check must never take the worker down
            log.warning("evidence.recheck_failed", cid=cid, error=str(exc))
        finally:
            with self._lock:
                self._refreshing.discard(cid)

    def checked_at(self, cid: str) -> float:
        """When `cid` was last proven, by this service or, for a page it adopted, by the worker that
        rendered it (unix time; 0 when never): a re-check is due `recheck_seconds` after it."""
        proved = self._proved.get(cid)
        if proved is not None:
            return proved.checked_at
        with self._lock:
            return max(self._proven_at.get(cid, 0.0), self._adopted_checks.get(cid, 0.0))

    def adopt(self, shown: Mapping[str, str], checked: Mapping[str, float] | None = None) -> None:
        """Take the outcomes a page another worker rendered shows as this service's own for the CIDs it
        has not proven, so that the page is current here until one of them changes; an outcome it
        knows otherwise stands (the page is then outdated here). `checked` says when that worker proved
        each, so this one re-checks them when they are due, not all at once when first served."""
        with self._lock:
            if checked:
                if len(self._adopted_checks) > self.max_outcomes:
                    self._adopted_checks.clear()
                for cid, when in checked.items():
                    self._adopted_checks[cid] = max(when, self._adopted_checks.get(cid, 0.0))
            for cid, status in shown.items():
                self._outcomes.setdefault(cid, status)
            self._forget_if_full()

    def _record_outcome(self, cid: str, status: str) -> None:
        with self._lock:
            self._outcomes[cid] = status
            self._outcomes.move_to_end(cid)
            self._forget_if_full()

    def _forget_if_full(self) -> None:
        """(under the lock) Forget the least recently proven outcomes beyond `max_outcomes`."""
        while len(self._outcomes) > self.max_outcomes:
            self._outcomes.popitem(last=False)

    def url(self, cid: str, path: str = "") -> str:
        suffix = "/" + quote(path) if path else ""
        return f"{self.gateway_url}/ipfs/{cid}{suffix}"

    def prove_onchain(self, digest: bytes, codec: int) -> Proof | None:
        cid = cid_string(digest, codec)
        return None if cid is None else self.prove(cid)

    def prove(self, cid: str) -> Proof:
        """Fetch and verify `cid`; a pass is trusted for `recheck_seconds`, then proven again."""
        proof = self._prove(cid)
        self._record_outcome(cid, proof.status)
        collected = getattr(self._collecting, "cids", None)
        if collected is not None:
            collected[cid] = proof.status
        return proof

    def prove_first_passing(self, cids: Sequence[str]) -> Proof:
        """The first of `cids` (the codecs an on-chain digest without one may be read with) whose proof
        passes, else the first one's proof. A page shows that proof, so `collecting` gathers only it
        when it passes: the failed readings before it would otherwise be fetched again on every serve
        of the page once their retry time is up. When none passes, it gathers them all."""
        outer = getattr(self._collecting, "cids", None)
        attempts: dict[str, str] = {}
        self._collecting.cids = attempts
        try:
            first = chosen = self.prove(cids[0])
            for cid in cids[1:]:
                if chosen.status == PASS:
                    break
                chosen = self.prove(cid)
        finally:
            self._collecting.cids = outer
        if chosen.status != PASS:
            chosen = first
        if outer is not None:
            outer.update({chosen.cid: chosen.status} if chosen.status == PASS else attempts)
        return chosen

    def _prove(self, cid: str) -> Proof:
        now = time.time()
        failed = self._failed.get(cid)
        if failed is not None:
            return failed
        proved = self._proved.get(cid)
        if proved is not None and now - proved.checked_at < self.recheck_seconds:
            return proved
        proof = replace(self._fetch_and_prove(cid), checked_at=now)
        if proof.status == PASS:
            self._proved.put(cid, proof)
            with self._lock:
                self._unavailable_since.pop(cid, None)
                self._proven_at[cid] = now
                self._proven_at.move_to_end(cid)
                if len(self._proven_at) > self.max_outcomes:
                    self._proven_at.popitem(last=False)
            return proof
        if proved is not None:
            # It was proven before and is no longer served intact: unavailable, not forged, as far as
            # this site can tell; the chain record and the earlier proof still stand.
            with self._lock:
                since = self._unavailable_since.setdefault(cid, now)
            proof = replace(
                proved,
                status=UNKNOWN,
                detail=f"evidence unavailable since {_iso(since)} (last verified "
                f"{_iso(proved.checked_at)}): {proof.detail}",
                checked_at=now,
                unavailable_since=since,
            )
        self._failed.put(cid, proof)
        return proof

    def _fetch_and_prove(self, cid: str) -> Proof:
        url = self.url(cid)
        try:
            try:
                fetched = self._fetch_car(cid, url)
            except httpx.TransportError as exc:
                # A kept-alive connection the store had closed, or one reset under load: once more, on
                # a new connection, before the proof changes. A proven CID's one failed fetch moved the
                # outcome to unavailable and back 30 s later, each time re-rendering every cached page.
                log.info("evidence.fetch_retried", cid=cid, error=str(exc))
                fetched = self._fetch_car(cid, url)
        except httpx.HTTPError as exc:
            log.warning("evidence.fetch_failed", cid=cid, error=str(exc))
            return Proof(
                cid,
                FAIL if isinstance(exc, httpx.RemoteProtocolError) else UNKNOWN,
                f"evidence store transfer failed: {exc}",
                url=url,
            )
        if isinstance(fetched, Proof):
            return fetched
        data = fetched
        try:
            verified = verify_car(cid, data)
        except EvidenceError as exc:
            return Proof(
                cid, FAIL, f"bytes served for this CID do not match it: {exc}", url=url, size=len(data)
            )
        return _describe(cid, verified, self, len(data))

    def _fetch_car(self, cid: str, url: str) -> Proof | bytes:
        """The CAR the store serves for `cid`, or the proof its answer already settles (not held, an
        error, too large)."""
        with self._http.stream(
            "GET", url, params={"format": "car"}, headers={"Accept": "application/vnd.ipld.car"}
        ) as response:
            if response.status_code == 404:
                return Proof(cid, UNKNOWN, "the evidence store does not hold this CID", url=url)
            if response.status_code >= 400:
                body = response.read()[:300].decode("utf-8", "replace")
                status = FAIL if "corrupt" in body.lower() or "hash" in body.lower() else UNKNOWN
                return Proof(cid, status, f"evidence store answered {response.status_code}: {body}", url=url)
            chunks, total = [], 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > self.max_bytes:
                    return Proof(
                        cid,
                        UNKNOWN,
                        f"evidence larger than {self.max_bytes} bytes; check it offline",
                        url=url,
                    )
                chunks.append(chunk)
        return b"".join(chunks)

    def thumbnail(self, cid: str, path: str, width: int, shape: str = "square") -> bytes:
        """A WebP of the image at `path` in the bundle `cid`, centre-cropped as the page shows it: a
        `width` x `width` tile (`square`) or a `width`-wide lot banner (`cover`). The image's blocks are
        fetched as a CAR and each hashed against `cid` before Pillow decodes them; the result is cached
        (a CID's content never changes)."""
        widths = COVER_WIDTHS if shape == "cover" else THUMB_WIDTHS
        if shape not in ("square", "cover"):
            raise BadInput(f"thumbnail shape must be square or cover, got {shape!r}")
        if width not in widths:
            raise BadInput(
                f"{shape} thumbnail width must be one of {', '.join(map(str, widths))}, got {width}"
            )
        if not path.lower().endswith(IMAGE_SUFFIXES):
            raise BadInput(f"{path!r} is not an image name ({', '.join(IMAGE_SUFFIXES)})")
        size = (width, round(width * COVER_ASPECT)) if shape == "cover" else (width, width)
        key = (cid, path, size)
        found = self._thumbs.get(key)
        if found is not None:
            return found
        return self._thumbs.put(key, _thumbnail(self._verified_file(cid, path), size, f"{cid}/{path}"))

    def _verified_file(self, cid: str, path: str) -> bytes:
        """The bytes at `path` below `cid`, every block on the way proven against `cid`."""
        try:
            response = self._http.get(
                self.url(cid, path), params={"format": "car"}, headers={"Accept": "application/vnd.ipld.car"}
            )
        except httpx.HTTPError as exc:
            raise Upstream(f"evidence store transfer failed: {exc}") from exc
        if response.status_code == 404:
            raise NotFound(f"the evidence store holds no {path!r} in {cid}")
        if response.status_code >= 400:
            raise Upstream(f"evidence store answered {response.status_code} for {cid}/{path}")
        if len(response.content) > self.max_bytes:
            raise Upstream(f"{cid}/{path} is larger than {self.max_bytes} bytes")
        try:
            verified = verify_car(cid, response.content, path)
            return dag.read_file(verified.get, dag.resolve(verified.get, verified.root, path))
        except EvidenceError as exc:
            raise Upstream(f"bytes served for {cid}/{path} do not match the CID: {exc}") from exc

    # uploads

    def rpc_store(self) -> RpcStore:
        """A client of the evidence node's RPC (the caller closes it)."""
        return RpcStore(self.api_url, timeout=self.timeout, token=self.api_token)

    @cached_property
    def reading_store(self) -> RpcStore:
        """One client of the evidence node's RPC for reads (cold-chain logs), shared by every thread:
        a client per page render cost a TLS context each (~40% of a worker's time at moving head)."""
        return self.rpc_store()

    def upload_bundle(self, record: Mapping, files: Mapping[str, bytes]) -> tuple[str, OnchainCid]:
        """Store a bundle (photos + record.json) on the evidence node; returns its CID and on-chain form."""
        store = self.rpc_store()
        try:
            bundle = build_bundle(store, record, dict(files))
        except EvidenceError as exc:
            raise Upstream(f"evidence store refused the upload: {exc}") from exc
        finally:
            store.close()
        return bundle.cid, bundle.onchain

    def upload_text(self, text: str, name: str) -> str:
        """Store a short text (a council's rejection reason) as one raw block; returns its CID."""
        store = self.rpc_store()
        try:
            return store.add_bytes(text.encode("utf-8"), name)
        except EvidenceError as exc:
            raise Upstream(f"evidence store refused the text: {exc}") from exc
        finally:
            store.close()


def _describe(cid: str, verified: VerifiedCar, service: EvidenceService, size: int) -> Proof:
    bundle = open_bundle(verified.get, cid)
    proven = "every block hashes to the on-chain CID"
    if not bundle.is_directory:  # a single file: maybe a JSON document (batch metadata) or a short text
        content = bundle.content or b""
        text = _short_text(content) if bundle.record is None else None
        return Proof(cid, PASS, proven, "file", (), bundle.record, size, service.url(cid), text=text)
    files = tuple(
        FileRef(
            e.name,
            int(e.size),
            service.url(cid, e.name),
            image,
            f"/thumb/{cid}/{quote(e.name)}" if image else "",
        )
        for e in bundle.entries
        if e.kind != "directory"
        for image in [e.name.lower().endswith(IMAGE_SUFFIXES)]
    )
    return Proof(cid, PASS, proven, "directory", files, bundle.record, size, service.url(cid))


def _thumbnail(data: bytes, size: tuple[int, int], name: str) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_THUMB_SOURCE_PIXELS:
                raise UnsupportedMedia(
                    f"{name} is {image.width}x{image.height} pixels, too large to thumbnail"
                )
            tile = ImageOps.fit(ImageOps.exif_transpose(image).convert("RGB"), size, Image.Resampling.LANCZOS)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise UnsupportedMedia(f"{name} is not an image the site can read: {exc}") from exc
    out = io.BytesIO()
    tile.save(out, "WEBP", quality=80, method=4)
    return out.getvalue()


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


#: longest plain-text evidence shown inline (a rejection reason)
MAX_TEXT_BYTES = 4000


def _short_text(raw: bytes) -> str | None:
    if len(raw) > MAX_TEXT_BYTES:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def sniff_type(data: bytes) -> str | None:
    for media, magics in UPLOAD_TYPES.items():
        if any(data.startswith(m) for m in magics):
            if media == "image/webp" and data[8:12] != b"WEBP":
                continue
            return media
    return None


def safe_name(name: str, media: str, taken: set[str]) -> str:
    """A plain, unique file name for the bundle, with the extension its real type has."""
    stem = _SAFE_NAME.sub("-", (name or "file").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(".-")[:60]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    ext = mimetypes.guess_extension(media) or ""
    ext = ".jpg" if ext in (".jpe", ".jpeg") else ext
    candidate = f"{stem or 'file'}{ext}"
    counter = 2
    while candidate in taken or candidate == RECORD_NAME:
        candidate = f"{stem or 'file'}-{counter}{ext}"
        counter += 1
    taken.add(candidate)
    return candidate


async def read_uploads(files: list, limit: int) -> list[tuple[str, bytes]]:
    """(name, bytes) of each uploaded file, at most `limit` bytes in all; each spooled temp file is
    closed as soon as it is read, not at the end of the request."""
    items: list[tuple[str, bytes]] = []
    total = 0
    try:
        for f in files:
            data = await f.read(limit + 1 - total)
            await f.close()
            total += len(data)
            if total > limit:
                raise UploadRejected(f"upload exceeds the {limit}-byte limit")
            items.append((f.filename or "file", data))
    finally:
        for f in files:
            await f.close()
    return items


def check_upload(files: list[tuple[str, bytes]], *, max_bytes: int, max_files: int) -> dict[str, bytes]:
    """Validate an evidence upload (count, total size, real type) and give the bundle's file names."""
    if not files:
        raise BadInput("upload at least one photo or PDF")
    if len(files) > max_files:
        raise UploadRejected(f"at most {max_files} files per upload, got {len(files)}")
    total = sum(len(data) for _, data in files)
    if total > max_bytes:
        raise UploadRejected(f"upload is {total} bytes; the limit is {max_bytes}")
    out: dict[str, bytes] = {}
    taken: set[str] = set()
    for name, data in files:
        media = sniff_type(data)
        if media is None:
            raise UnsupportedMedia(f"{name!r} is not a JPEG, PNG, WebP or PDF file")
        out[safe_name(name, media, taken)] = data
    return out
