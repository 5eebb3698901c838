"""Evidence store: Kubo-identical UnixFS CIDs, an embedded IPFS node, and clients for real Kubo.

Modules:
    importer   UnixFS DAG layout (profiles kubo-v0, kubo-v1, unixfs-v1-2025), streaming import
    blockstore on-disk blocks with atomic adds and verified reads; pins
    store      the `EvidenceStore` interface and the in-process `LocalStore`
    remote     `RpcStore` (any Kubo-RPC node over httpx) and `KuboStore` (ipfshttpclient)
    node       the HTTP node: Kubo RPC subset + trustless gateway (`tambon evidence serve`)
    dag, car   reading UnixFS DAGs from verified blocks; CARv1 read/write
    verify     pure checks for the verify site: bytes / files / listing / CAR against a CID
    bundle     evidence bundles (photos + record.json) and their on-chain form
"""
