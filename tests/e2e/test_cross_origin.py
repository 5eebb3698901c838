"""A page on another origin, in a real browser, tries what the attacker of a public deployment would:
add and unpin through the evidence node's RPC, and send a transaction from the demo chain's unlocked
account. Both are refused; the same page succeeds against an unprotected node or chain (the control)."""

from __future__ import annotations

import os

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from evidence.node import create_app as create_node_app
from evidence.store import LocalStore
from tambon.accounts import demo_account
from tambon.settings import Settings
from tambon.stack import Stack
from tests.frontend.world import ThreadServer, free_port

pytestmark = pytest.mark.e2e

ATTACK_RPC = """
async ([node, victim]) => {
  const form = new FormData();
  form.append("file", new Blob(["<script>alert(1)</script>"], { type: "text/html" }), "evil.html");
  const tries = [];
  for (const mode of ["no-cors", "cors"]) {
    try { await fetch(node + "/api/v0/add?pin=true", { method: "POST", mode, body: form }); tries.push(mode + ":sent"); }
    catch (e) { tries.push(mode + ":" + e.name); }
    try { await fetch(node + "/api/v0/pin/rm?arg=" + victim, { method: "POST", mode }); }
    catch (e) { tries.push("rm:" + e.name); }
  }
  return tries;
}
"""

ATTACK_CHAIN = """
async ([rpc, from]) => {
  const call = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_sendTransaction",
    params: [{ from, to: from, value: "0x1" }] });
  const tries = [];
  try {
    const r = await fetch(rpc, { method: "POST", headers: { "Content-Type": "application/json" }, body: call });
    tries.push("cors:" + (await r.text()));
  } catch (e) { tries.push("cors:" + e.name); }
  try { await fetch(rpc, { method: "POST", mode: "no-cors", body: call }); tries.push("no-cors:sent"); }
  catch (e) { tries.push("no-cors:" + e.name); }
  return tries;
}
"""


@pytest.fixture
def attacker():
    """Any page on another origin (another port of 127.0.0.1 is another origin)."""
    page = Starlette(routes=[Route("/", lambda _r: HTMLResponse("<!doctype html><title>prize</title>"))])
    server = ThreadServer(page).start()
    yield server.url
    server.stop()


def _node(tmp_path, **options):
    store = LocalStore(tmp_path / f"store-{len(options)}", "kubo-v1")
    victim = store.add_bytes(os.urandom(2000))
    return store, victim, ThreadServer(create_node_app(store, max_upload_bytes=1 << 20, **options)).start()


def test_foreign_page__cannot_add_or_unpin_through_the_rpc(browser, attacker, tmp_path):
    store, victim, node = _node(tmp_path)
    open_node = None
    try:
        page = browser.new_page()
        page.goto(attacker)
        tries = page.evaluate(ATTACK_RPC, [node.url, victim])
        assert "no-cors:sent" in tries  # the browser did send them
        assert store.pins() == [victim]  # nothing added, nothing unpinned
        # control: a node that allows that origin obeys the same page
        open_store, open_victim, open_node = _node(tmp_path, allowed_origins=[attacker])
        page.evaluate(ATTACK_RPC, [open_node.url, open_victim])
        assert open_victim not in open_store.pins() and len(open_store.pins()) == 1
        page.close()
    finally:
        node.stop()
        if open_node is not None:
            open_node.stop()


def _anvil(tmp_path, name: str, cors: bool) -> Stack:
    """The demo chain exactly as `tambon demo` starts it (or, for the control, with CORS left on)."""
    stack = Stack(Settings(rpc_url=f"http://127.0.0.1:{free_port()}", data_dir=tmp_path / name))
    if not cors:
        stack.start("chain")
        return stack
    command = [arg for arg in stack.services["chain"].command() if arg != "--no-cors"]
    stack.services["chain"].command = lambda: command
    stack.start("chain")
    return stack


def _nonce(rpc_url: str, address: str) -> int:
    call = {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionCount", "params": [address, "latest"]}
    return int(httpx.post(rpc_url, json=call, timeout=5).json()["result"], 16)


def test_foreign_page__cannot_use_the_demo_chain(browser, attacker, tmp_path):
    sender = demo_account(0).address
    closed = _anvil(tmp_path, "closed", cors=False)
    opened = None
    try:
        page = browser.new_page()
        page.goto(attacker)
        tries = page.evaluate(ATTACK_CHAIN, [closed.settings.rpc_url, sender])
        assert tries[0] == "cors:TypeError" and tries[1] == "no-cors:sent", tries
        page.wait_for_timeout(2500)  # a block or two (block time 1 s)
        assert _nonce(closed.settings.rpc_url, sender) == 0
        # control: the same chain with anvil's default CORS obeys the page
        opened = _anvil(tmp_path, "open", cors=True)
        tries = page.evaluate(ATTACK_CHAIN, [opened.settings.rpc_url, sender])
        assert tries[0].startswith('cors:{"jsonrpc"') and '"result":"0x' in tries[0], tries
        page.close()
    finally:
        closed.stop("chain")
        if opened is not None:
            opened.stop("chain")
