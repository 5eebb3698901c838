"""Who may write: Sign-In with Ethereum (EIP-4361) sessions and the accounts allowed to upload.

A wallet asks for a message (`GET /api/auth/message`) carrying a fresh nonce, signs it with
`personal_sign`, and posts it back (`POST /api/auth/login`). The site parses and checks the signed text
itself (the `siwe` package): this site's domain and URI, this chain's id, an expiry no later than the
nonce's, a nonce it issued and nobody used yet (consumed atomically: a replay is refused), and a
signature that recovers to the message's address. The account must be a council member, a grant
recipient or a registered producer. The session is an opaque random token in a cookie
(`HttpOnly; SameSite=Strict`, `Secure` when the site is served over HTTPS); only its hash is stored.

Nonces, sessions and upload quotas live in one SQLite file under the data directory, so every worker
of one host shares them; several hosts would keep them in the index database instead.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from siwe import SiweMessage
from siwe.siwe import ExpiredMessage, NotYetValidMessage, VerificationError

from frontend.errors import BadInput, FrontendError

SESSION_COOKIE = "tambon_session"
STATEMENT = (
    "Sign in to Tambon Trust to upload evidence. This signature costs nothing and sends no transaction."
)


class SignInRequired(FrontendError):
    """A write needs a wallet session and the request has none (or an expired one)."""

    http_status = 401


class NotAllowed(FrontendError):
    """The signed-in account may not do this (no role, or not its lot or grant)."""

    http_status = 403


@dataclass(frozen=True, slots=True)
class Session:
    address: str
    expires: int


class AuthStore:
    """Nonces, sessions and per-account upload bytes in SQLite (shared by the workers of one host)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(
                """
                CREATE TABLE IF NOT EXISTS nonces (nonce TEXT PRIMARY KEY, expires INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS sessions (
                    token_hash TEXT PRIMARY KEY, address TEXT NOT NULL, expires INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS upload_bytes (
                    account TEXT NOT NULL, day INTEGER NOT NULL, bytes INTEGER NOT NULL,
                    PRIMARY KEY (account, day));
                """
            )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    def issue_nonce(self, ttl: int) -> str:
        nonce = secrets.token_hex(16)  # EIP-4361: at least 8 alphanumeric characters
        now = int(time.time())
        with self._db() as db:
            db.execute("DELETE FROM nonces WHERE expires <= ?", (now,))
            db.execute("INSERT INTO nonces VALUES (?, ?)", (nonce, now + ttl))
        return nonce

    def consume_nonce(self, nonce: str) -> bool:
        """True once for a nonce this site issued that has not expired; never again."""
        with self._db() as db:
            gone = db.execute(
                "DELETE FROM nonces WHERE nonce = ? AND expires > ?", (nonce, int(time.time()))
            ).rowcount
        return gone == 1

    def open_session(self, address: str, ttl: int) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(address, int(time.time()) + ttl)
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE expires <= ?", (int(time.time()),))
            db.execute("INSERT INTO sessions VALUES (?, ?, ?)", (_hash(token), address, session.expires))
        return token, session

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._db() as db:
            row = db.execute(
                "SELECT address, expires FROM sessions WHERE token_hash = ? AND expires > ?",
                (_hash(token), int(time.time())),
            ).fetchone()
        return Session(row[0], row[1]) if row else None

    def close_session(self, token: str) -> None:
        with self._db() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (_hash(token),))

    def uploaded_today(self, account: str, day: int) -> int:
        with self._db() as db:
            row = db.execute(
                "SELECT bytes FROM upload_bytes WHERE account = ? AND day = ?", (account.lower(), day)
            ).fetchone()
        return row[0] if row else 0

    def add_upload(self, account: str, day: int, size: int) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO upload_bytes VALUES (?, ?, ?) "
                "ON CONFLICT (account, day) DO UPDATE SET bytes = bytes + excluded.bytes",
                (account.lower(), day, size),
            )


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def site_domain(public_url: str) -> str:
    """The EIP-4361 domain of the site: its host[:port] (RFC 3986 authority)."""
    return urlsplit(public_url).netloc


def prepare_message(
    address: str, *, public_url: str, chain_id: int, nonce: str, ttl: int, now: datetime | None = None
) -> str:
    issued = now or datetime.now(UTC)
    message = SiweMessage(
        domain=site_domain(public_url),
        address=address,
        statement=STATEMENT,
        uri=public_url,
        version="1",
        chain_id=chain_id,
        nonce=nonce,
        issued_at=_iso(issued),
        expiration_time=_iso(issued + timedelta(seconds=ttl)),
    )
    return message.prepare_message()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def verify_sign_in(
    text: str,
    signature: str,
    *,
    public_url: str,
    chain_id: int,
    store: AuthStore,
    max_ttl: int,
    now: datetime | None = None,
) -> str:
    """The checksummed address that signed `text`, or an error saying which check failed.

    The nonce is consumed only after every other check passed, so a bad attempt does not burn it;
    a second login with the same message finds it gone.
    """
    try:
        message = SiweMessage.from_message(text)
    except Exception as exc:  # the parser raises several ValueError/ABNF types for malformed text
        raise BadInput(f"not a Sign-In with Ethereum (EIP-4361) message: {str(exc)[:120]}") from exc
    domain = site_domain(public_url)
    if message.domain != domain:
        raise NotAllowed(f"the message signs in to {message.domain[:100]!r}, not to this site ({domain})")
    if message.uri.rstrip("/") != public_url.rstrip("/"):
        raise NotAllowed(f"the message's URI {message.uri[:100]!r} is not this site's {public_url}")
    if message.chain_id != chain_id:
        raise NotAllowed(f"the message is for chain {message.chain_id}; this site runs on chain {chain_id}")
    if message.expiration_time is None:
        raise NotAllowed("the message must carry an expiration time")
    issued = datetime.fromisoformat(str(message.issued_at).replace("Z", "+00:00"))
    expires = datetime.fromisoformat(str(message.expiration_time).replace("Z", "+00:00"))
    if expires - issued > timedelta(seconds=max_ttl):
        raise NotAllowed(f"the message may be valid for at most {max_ttl} seconds")
    try:
        message.verify(signature, domain=domain, timestamp=now or datetime.now(UTC))
    except ExpiredMessage as exc:
        raise NotAllowed("the sign-in message has expired; sign a new one") from exc
    except NotYetValidMessage as exc:
        raise NotAllowed("the sign-in message is not valid yet") from exc
    except VerificationError as exc:
        raise NotAllowed("the signature does not match the message's address") from exc
    except ValueError as exc:  # a malformed signature string
        raise BadInput(f"signature is not a 65-byte hex string: {str(exc)[:80]}") from exc
    if not store.consume_nonce(message.nonce):
        raise NotAllowed("the nonce is unknown, expired or already used; ask for a new message")
    return message.address
