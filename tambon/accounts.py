"""Who signs: an encrypted keystore (production) or a numbered demo account (local chain only).

Keystores are the standard Web3 Secret Storage JSON that eth-account, geth and ape write.
The password comes from an environment variable or an interactive prompt, never a file in the repo.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from tambon.errors import ConfigError
from tambon.settings import LOCAL_CHAIN_IDS

#: The public mnemonic anvil and ape's test accounts derive from; worthless anywhere but a local chain.
DEMO_MNEMONIC = "test test test test test test test test test test test junk"

Account.enable_unaudited_hdwallet_features()


def demo_account(index: int) -> LocalAccount:
    """Account `index` of the local chain's well-known mnemonic (anvil and ape agree on it)."""
    if not 0 <= index < 100:
        raise ConfigError(f"demo account index must be 0..99, got {index}")
    return Account.from_mnemonic(DEMO_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def load_account(
    chain_id: int,
    keystore: Path | None = None,
    password: str | None = None,
    demo_index: int | None = None,
    password_env: str = "TAMBON_KEYSTORE_PASSWORD",
) -> LocalAccount:
    """Load the signing account; refuses a demo key on any chain but a local one."""
    if keystore is not None:
        if not keystore.exists():
            raise ConfigError(f"keystore {keystore} does not exist")
        secret = password if password is not None else os.environ.get(password_env)
        if secret is None:
            raise ConfigError(f"keystore {keystore} needs a password: set {password_env}")
        try:
            key = Account.decrypt(json.loads(keystore.read_text()), secret)
        except ValueError as exc:
            raise ConfigError(f"cannot decrypt {keystore}: wrong password or corrupt keystore") from exc
        return Account.from_key(key)
    if demo_index is not None:
        if chain_id not in LOCAL_CHAIN_IDS:
            raise ConfigError(f"demo accounts are public keys; refusing them on chain {chain_id}")
        return demo_account(demo_index)
    raise ConfigError(
        "no signing account: pass a keystore (--keystore) or, on a local chain, --dev-account N"
    )


def write_keystore(account: LocalAccount, path: Path, password: str) -> Path:
    """Encrypt `account` into a Web3 Secret Storage file readable only by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(Account.encrypt(account.key, password)))
    path.chmod(0o600)
    return path
