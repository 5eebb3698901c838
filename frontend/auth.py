"""Who may write: Sign-In with Ethereum (EIP-4361) sessions and the accounts allowed to upload.

A wallet asks for a message (`GET /api/auth/message`) carrying a fresh nonce, signs it with
`personal_sign`, and posts it back (`POST /api/auth/login`). The site parses and checks the signed text
itself (the `siwe` package): this site's domain and URI, this chain's id, an expiry no later than the
nonce's, a nonce it issued and nobody used yet (consumed atomically: a replay is refused), and a
signature that recovers to the message's address. The account must be a council member, a grant
recipient or a registered producer. The session is an opaque random token in a cookie
(`HttpOnly; SameSite=Strict`, `Secure` when the site is served over HTTPS); only its hash is stored.

Nonces, sessions, upload quotas and rate-limit counters live in the index database (SQLite beside the
index by default, PostgreSQL with TAMBON_INDEX_URL), so every worker of every host that uses it
shares them.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from siwe import SiweMessage
from siwe.siwe import ExpiredMessage, NotYetValidMessage, VerificationError
from sqlalchemy import delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from frontend.errors import BadInput, FrontendError
from tambon.index.schema import web_nonces, web_rate_hits, web_sessions, web_upload_bytes
from tambon.index.store import IndexStore

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
    """Nonces, sessions, upload bytes per account and day, and rate-limit hits, in the index database
    (`tambon.index.schema`, the `web_*` tables): every web worker on every host that uses the same
    database (TAMBON_INDEX_URL) shares them. Each check-and-change is one atomic statement."""

    def __init__(self, store: IndexStore) -> None:
        self.engine = store.engine
        self._insert = pg_insert if store.dialect == "postgresql" else sqlite_insert

    def issue_nonce(self, ttl: int) -> str:
        nonce = secrets.token_hex(16)  # EIP-4361: at least 8 alphanumeric characters
        now = int(time.time())
        with self.engine.begin() as db:
            db.execute(delete(web_nonces).where(web_nonces.c.expires <= now))
            db.execute(insert(web_nonces).values(nonce=nonce, expires=now + ttl))
        return nonce

    def consume_nonce(self, nonce: str) -> bool:
        """True once for a nonce this site issued that has not expired; never again."""
        with self.engine.begin() as db:
            gone = db.execute(
                delete(web_nonces).where(web_nonces.c.nonce == nonce, web_nonces.c.expires > int(time.time()))
            ).rowcount
        return gone == 1

    def open_session(self, address: str, ttl: int) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(address, int(time.time()) + ttl)
        with self.engine.begin() as db:
            db.execute(delete(web_sessions).where(web_sessions.c.expires <= int(time.time())))
            db.execute(
                insert(web_sessions).values(token_hash=_hash(token), address=address, expires=session.expires)
            )
        return token, session

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self.engine.connect() as db:
            row = db.execute(
                select(web_sessions.c.address, web_sessions.c.expires).where(
                    web_sessions.c.token_hash == _hash(token), web_sessions.c.expires > int(time.time())
                )
            ).first()
        return Session(row.address, row.expires) if row else None

    def close_session(self, token: str) -> None:
        with self.engine.begin() as db:
            db.execute(delete(web_sessions).where(web_sessions.c.token_hash == _hash(token)))

    def uploaded_today(self, account: str, day: int) -> int:
        with self.engine.connect() as db:
            found = db.execute(
                select(web_upload_bytes.c.bytes).where(
                    web_upload_bytes.c.account == account.lower(), web_upload_bytes.c.day == day
                )
            ).scalar()
        return int(found or 0)

    def add_upload(self, account: str, day: int, size: int) -> None:
        added = self._insert(web_upload_bytes).values(account=account.lower(), day=day, bytes=size)
        with self.engine.begin() as db:
            db.execute(
                added.on_conflict_do_update(
                    index_elements=["account", "day"],
                    set_={"bytes": web_upload_bytes.c.bytes + added.excluded.bytes},
                )
            )

    def hit(self, key: str, limit: int, window: int, now: float | None = None) -> int | None:
        """Count one hit on `key` in the current fixed window of `window` seconds: None while the
        window holds at most `limit` hits, else the seconds until the next window opens.

        The count is an atomic upsert that returns the new total, so workers and hosts hitting the
        same key at once never both take the last place. Refused hits count too (a flood gains
        nothing by retrying early). A hit that opens a window clears the windows that have ended.
        """
        moment = int(now if now is not None else time.time())
        start = moment - moment % window
        counted = self._insert(web_rate_hits).values(
            key=key, window_start=start, hits=1, expires=start + window
        )
        with self.engine.begin() as db:
            hits = db.execute(
                counted.on_conflict_do_update(
                    index_elements=["key", "window_start"], set_={"hits": web_rate_hits.c.hits + 1}
                ).returning(web_rate_hits.c.hits)
            ).scalar_one()
            if hits == 1:
                db.execute(delete(web_rate_hits).where(web_rate_hits.c.expires <= moment))
        return None if hits <= limit else max(1, start + window - moment)


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
