"""/api/auth: Sign-In with Ethereum (EIP-4361) for the accounts that upload evidence."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from frontend.api.models import SessionOut, SignedInOut, SignedOutOut, SignInMessageOut
from frontend.auth import SESSION_COOKIE, SignInRequired, prepare_message, verify_sign_in
from frontend.deps import ChainHead, Ctx
from frontend.services.wallet import parse_address

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _no_store(response: Response) -> None:
    """Sign-in answers are for one browser only: never kept by a cache."""
    response.headers["Cache-Control"] = "no-store"


class LoginRequest(BaseModel):
    message: str = Field(max_length=4000, description="the EIP-4361 message from GET /api/auth/message")
    signature: str = Field(max_length=200, description="0x + 65 bytes from personal_sign")


@router.get("/message", summary="An EIP-4361 sign-in message with a fresh nonce, for personal_sign")
async def message(
    ctx: Ctx,
    response: Response,
    address: Annotated[str, Query(max_length=64, description="the wallet's address")],
) -> SignInMessageOut:
    account = parse_address(address, "address")
    nonce = await run_in_threadpool(ctx.auth.issue_nonce, ctx.web.sign_in_seconds)
    text = prepare_message(
        account,
        public_url=ctx.settings.public_url,
        chain_id=ctx.reader.chain_id,
        nonce=nonce,
        ttl=ctx.web.sign_in_seconds,
    )
    _no_store(response)
    return SignInMessageOut(message=text, nonce=nonce)


@router.post("/login", summary="Check a signed sign-in message and open a session (cookie)")
async def login(body: LoginRequest, ctx: Ctx, head: ChainHead, response: Response) -> SignedInOut:
    """Refused when the message is not this site's (domain, URI, chain), expired, replayed, badly signed,
    or when the account is not a council member, grant recipient or registered producer."""

    def work() -> tuple[str, Any, frozenset[str]]:
        address = verify_sign_in(
            body.message,
            body.signature,
            public_url=ctx.settings.public_url,
            chain_id=ctx.reader.chain_id,
            store=ctx.auth,
            max_ttl=ctx.web.sign_in_seconds,
        )
        roles = ctx.writers.require_role(head, address)
        token, session = ctx.auth.open_session(address, ctx.web.session_seconds)
        return token, session, roles

    token, session, roles = await run_in_threadpool(work)
    _no_store(response)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=ctx.web.session_seconds,
        path="/",
        httponly=True,
        samesite="strict",
        secure=ctx.settings.public_url.startswith("https://"),
    )
    return SignedInOut(address=session.address, roles=sorted(roles), expires=session.expires)


@router.get("/session", summary="The signed-in account, or 401")
async def current(request: Request, ctx: Ctx, response: Response) -> SessionOut:
    session = await run_in_threadpool(ctx.auth.session, request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise SignInRequired("not signed in")
    _no_store(response)
    return SessionOut(address=session.address, expires=session.expires)


@router.post("/logout", summary="End the session")
async def logout(request: Request, ctx: Ctx, response: Response) -> SignedOutOut:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await run_in_threadpool(ctx.auth.close_session, token)
    _no_store(response)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return SignedOutOut(signed_out=True)
