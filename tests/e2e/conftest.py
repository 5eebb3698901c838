"""Browser tests: Debian chromium driven by Playwright against the site on a real anvil + evidence node.

Wallets are an injected EIP-1193 provider (`window.ethereum`) backed by the local test accounts: the
page's requests go to a Playwright exposed function that signs with eth-account (transactions,
`eth_signTypedData_v4`) and forwards everything else to anvil.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from tambon.typed_data import sign
from tests.frontend.world import ThreadServer, free_port, shared_world

# Screenshots go to test-artifacts/; with TAMBON_UPDATE_SCREENSHOTS=1 three of them also refresh
# docs/screenshots/ (the README's images).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
DOCS_SHOTS = REPO / "docs" / "screenshots"

PROVIDER_JS = """
(() => {
  const listeners = {};
  window.ethereum = {
    isTambonTestWallet: true,
    request: async ({ method, params }) => {
      const answer = JSON.parse(await window.tambonWallet(method, JSON.stringify(params || [])));
      if (answer.error) {
        const error = new Error(answer.error.message);
        error.code = answer.error.code;
        throw error;
      }
      return answer.result;
    },
    on: (event, fn) => { (listeners[event] = listeners[event] || []).push(fn); },
    removeListener: () => {},
  };
})();
"""


class TestWallet:
    """What a wallet app does for one account: sign transactions and typed data, relay reads."""

    def __init__(self, account, rpc_url: str) -> None:
        self.account = account
        self.w3 = Web3(Web3.HTTPProvider(rpc_url))
        self.sent: list[str] = []
        self.signed: list[dict] = []
        #: the chain the wallet is on when it is not the site's (None: the site's chain)
        self.other_chain: int | None = None
        #: whether the wallet agrees to wallet_switchEthereumChain
        self.switchable = True
        self.signed_in: list[str] = []

    def handle(self, method: str, params_json: str) -> str:
        params = json.loads(params_json)
        try:
            return json.dumps({"result": self._dispatch(method, params)})
        except Exception as exc:  # the page sees an EIP-1193 error, as from a real wallet
            return json.dumps(
                {"error": {"code": 4001 if isinstance(exc, PermissionError) else -32603, "message": str(exc)}}
            )

    def _dispatch(self, method: str, params: list):
        address = self.account.address
        if method in ("eth_requestAccounts", "eth_accounts"):
            return [address]
        if method == "eth_chainId":
            return hex(self.other_chain or self.w3.eth.chain_id)
        if method == "wallet_switchEthereumChain":
            if not self.switchable:
                raise PermissionError("User rejected the request.")
            wanted = int(params[0]["chainId"], 16)
            self.other_chain = None if wanted == self.w3.eth.chain_id else wanted
            return None
        if method == "wallet_addEthereumChain":
            raise PermissionError("User rejected the request.")
        if method == "personal_sign":  # EIP-4361 sign-in: [hex of the UTF-8 message, account]
            payload, signer = params
            if signer.lower() != address.lower():
                raise PermissionError("unknown account")
            text = bytes.fromhex(payload.removeprefix("0x")) if payload.startswith("0x") else payload.encode()
            self.signed_in.append(text.decode())
            return (
                "0x"
                + Account.sign_message(
                    encode_defunct(primitive=text), self.account.private_key
                ).signature.hex()
            )
        if method == "eth_signTypedData_v4":
            signer, payload = params
            if signer.lower() != address.lower():
                raise PermissionError("unknown account")
            data = json.loads(payload)
            self.signed.append(data)
            return "0x" + sign(data, self.account.private_key).hex()
        if method == "eth_sendTransaction" and self.other_chain:
            # sent on the other chain: the site's chain never sees it
            self.sent.append("other-chain")
            return "0x" + "ab" * 32
        if method == "eth_sendTransaction":
            tx = params[0]
            call = {
                "from": address,
                "to": Web3.to_checksum_address(tx["to"]),
                "data": tx["data"],
                "value": int(tx.get("value") or "0x0", 16),
            }
            full = {
                **call,
                "gas": self.w3.eth.estimate_gas(call),
                "chainId": self.w3.eth.chain_id,
                "nonce": self.w3.eth.get_transaction_count(address),
                "gasPrice": self.w3.eth.gas_price,
            }
            raw = Account.sign_transaction(full, self.account.private_key).raw_transaction
            tx_hash = self.w3.eth.send_raw_transaction(raw)
            self.sent.append(tx_hash.hex())
            return "0x" + bytes(tx_hash).hex()
        response = self.w3.provider.make_request(method, params)
        if "error" in response:
            raise RuntimeError(response["error"].get("message", "node error"))
        return response["result"]


@pytest.fixture(scope="session")
def world(project, chain, accounts, deployment, tmp_path_factory):
    """The populated อปท. (shared with the other suite when both run in one session)."""
    return shared_world(project, chain, accounts, deployment, tmp_path_factory.mktemp("evidence-store"))


@pytest.fixture(scope="session")
def evidence_server(world):
    """(store, node): the embedded evidence node the world's evidence lives in."""
    return world.store, world.node


def serve_site(deployment, rpc_url, node, home: Path, **web_settings) -> ThreadServer:
    """The web site on a free port, reading the test chain and the world's evidence node."""
    from frontend.app import create_app
    from frontend.settings import WebSettings
    from tambon.settings import Settings

    deployment.save(home / "deployments" / f"{deployment.network}.json")
    port = free_port()
    configured = Settings(
        network=deployment.network,
        rpc_url=rpc_url,
        deployments_dir=home / "deployments",
        data_dir=home / "data",
        evidence_api_url=node.url,
        gateway_url=node.url,
        public_url=f"http://127.0.0.1:{port}",
    )
    web = WebSettings(org_name="อบต. หนองสนิท", **web_settings)
    return ThreadServer(create_app(configured, web), port=port).start()


@pytest.fixture(scope="module")
def site(world, deployment, rpc_url, evidence_server, tmp_path_factory):
    """One web site per test module (its caches live as long as the module's tests)."""
    _store, node = evidence_server
    server = serve_site(deployment, rpc_url, node, tmp_path_factory.mktemp("site"))
    yield server.url
    server.stop()


# Module scope: the sync Playwright driver keeps an event loop running in the main thread while it
# lives, which would break later tests that call asyncio.run().
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (make install installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def open_page(browser, rpc_url):
    """open_page(account or None, lang) -> (page, wallet): a fresh browser context, wallet injected."""
    contexts = []

    def _open(account=None, lang="en-US", viewport=None):
        context = browser.new_context(
            locale=lang,
            viewport=viewport or {"width": 420, "height": 900},
            extra_http_headers={"Accept-Language": lang},
        )
        contexts.append(context)
        wallet = None
        if account is not None:
            wallet = TestWallet(account, rpc_url)
            context.expose_function("tambonWallet", wallet.handle)
            context.add_init_script(PROVIDER_JS)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.errors = errors  # type: ignore[attr-defined]
        return page, wallet

    yield _open
    for c in contexts:
        c.close()


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def shot(page, name: str, *, docs: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs and os.environ.get("TAMBON_UPDATE_SCREENSHOTS") == "1":  # refresh the README's images
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_SHOTS / f"{name}.png")
    return path
