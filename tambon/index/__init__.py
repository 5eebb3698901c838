"""The chain index: a follower that stores the project's contract events, and readers over them.

`tambon index run` follows the chain into the store (`store.py`, schema in `schema.py`);
pages, exports, the resolver and the oracle read facts from it (`reader.py`).
"""
