"""Tambon Trust core: settings, chain access, EIP-712 typed data, CIDs and the `tambon` CLI."""

__version__ = "0.1.0"
