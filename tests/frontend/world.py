"""A populated อปท. for the verify-site tests, the browser tests and the web benchmark.

`populate()` drives the deployed contracts through ape with the test accounts, the way the real
actors would: the council registers producers, oracle keys and a model by signed decisions; a
community registers a mango lot with its metadata and evidence bundles; a packing house packs,
ships (cold chain) and splits it into boxes; the oracle grades; a shop sells a box. It also opens
grants (THB and ETH) with paid, submitted, rejected and pending milestones, and a "tampered" lot
whose checks must fail: a corrupted evidence block, a revoked oracle key, graded evidence from
elsewhere; and a lot whose on-chain strings and metadata carry XSS payloads.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from eth_account import Account

from evidence.bundle import build_bundle
from evidence.cids import digest_of, parse_cid
from evidence.node import create_app as create_node_app
from evidence.store import LocalStore
from tambon.attestation import Attestation, Grade, batch_root, root_typed_data, sign_attestation
from tambon.cid import OnchainCid
from tambon.settings import Settings
from tambon.typed_data import ESCROW_DOMAIN_NAME, CouncilApproval, domain, pack_signatures, sign, typed_data

THB = 10**18
DAY = 86_400
MANGO = 201
CULTIVATION, HARVEST, PROCESSING, TRANSPORT, MARKETING = range(5)
MODEL_SHA = hashlib.sha256(b"tambon grader v1 onnx").digest()
XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
#: oracle keys never pay gas (anyone relays attestations), so plain local keys serve
ORACLE_KEY = "0x" + hashlib.sha256(b"tambon oracle key 1").hexdigest()
OLD_ORACLE_KEY = "0x" + hashlib.sha256(b"tambon oracle key 0 (revoked)").hexdigest()


def free_ports(count: int) -> list[int]:
    """`count` different free loopback ports: each socket stays bound until all are chosen, since a
    port just released may be handed out again (two services told one port share one server)."""
    with contextlib.ExitStack() as bound:
        sockets = [bound.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def free_port() -> int:
    return free_ports(1)[0]


def local_stack_settings(root: Path) -> Settings:
    """A local stack of its own: chain, evidence node, gateway and site each on a free loopback port,
    its data and deployments under root."""
    rpc, api, gateway, web = free_ports(4)
    return Settings(
        rpc_url=f"http://127.0.0.1:{rpc}",
        evidence_api_url=f"http://127.0.0.1:{api}",
        gateway_url=f"http://127.0.0.1:{gateway}",
        public_url=f"http://127.0.0.1:{web}",
        data_dir=root / "data",
        deployments_dir=root / "deployments",
    )


class ThreadServer:
    """A uvicorn server for an ASGI app on a free loopback port, in a daemon thread."""

    def __init__(self, app, port: int | None = None, **options) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", **options)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def sign_in(client, account) -> dict:
    """Sign-In with Ethereum through the site's API, as the wallet pages do (personal_sign)."""
    from eth_account.messages import encode_defunct

    text = client.get("/api/auth/message", params={"address": account.address}).json()["message"]
    signed = Account.sign_message(encode_defunct(text=text), account.private_key)
    r = client.post("/api/auth/login", json={"message": text, "signature": "0x" + signed.signature.hex()})
    assert r.status_code == 200, r.text
    return r.json()


def assert_page_shows_report(page: str, report: dict, lot: int) -> None:
    """A lot's verify page (English) shows what `tambon verify batch --json` reported: the same verdict,
    the same count of checks passed, and every check with its result."""
    s = report["summary"]
    verdict = "fail" if s["fail"] else "unknown" if s["unknown"] else "pass"
    assert f'<p class="verdict {verdict}" id="verdict">' in page, lot
    assert f"{s['pass']} of {s['pass'] + s['fail'] + s['unknown']} checks passed" in page, lot
    shown = set(re.findall(r'data-check="([a-z_]+)" data-status="([a-z]+)"', page))
    assert {(c["name"], c["status"]) for c in report["checks"]} <= shown, lot


def evidence_node(root: Path) -> tuple[LocalStore, ThreadServer]:
    """The embedded evidence node (Kubo RPC subset + gateway on one port) over a fresh store."""
    store = LocalStore(root, "kubo-v1")
    return store, ThreadServer(create_node_app(store, max_upload_bytes=64 * 1024 * 1024)).start()


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small valid PNG: a fruit-like disc of colour `rgb`, shaded, on a leaf-green background."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    cx, cy, radius = width / 2, height / 2, min(width, height) * 0.38
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            d = ((x - cx) ** 2 + (y - cy) ** 2) ** 0.5
            if d <= radius:
                shade = 1.15 - 0.45 * (((x - cx * 0.8) ** 2 + (y - cy * 0.7) ** 2) ** 0.5) / (radius * 1.6)
                row += bytes(max(0, min(255, int(c * shade))) for c in rgb)
            else:
                row += bytes((70 + y * 60 // max(1, height), 120 + y * 50 // max(1, height), 60))
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def transport_data(min_centi_c: int, max_centi_c: int) -> int:
    return (min_centi_c & 0xFFFF) | ((max_centi_c & 0xFFFF) << 16)


@dataclass(frozen=True)
class ColdChainTrip:
    """A lot's TRANSPORT step carrying a reefer log: what the oracle judges."""

    lot: int
    log: OnchainCid
    csv: bytes


def warm_trip(world: World, chain, accounts, metadata: bytes, seed: int) -> ColdChainTrip:
    """A mango lot whose TRANSPORT step carries a 30 h reefer log with a 6 h warm spell at the port;
    the council approves the crop rules first (rule sets share the model table: one ApproveModel)."""
    from oracle.coldchain import load_rules
    from oracle.coldchain.synth import WarmSpell, logger_csv, reefer_readings
    from tambon.provenance import Stage

    registry, provenance, community = world.registry, world.provenance, world.community
    sha = bytes.fromhex(load_rules().sha256)
    if not registry.is_approved_model(sha):
        Decisions(world.escrow, world.members, chain.chain_id, accounts[0]).governance(
            chain, "ApproveModel", world.escrow.approve_model, registry=registry.address, modelSha256=sha
        )
    lot = provenance.register(metadata, 0x55, MANGO, 500_000, 20_400, sender=community).return_value
    start = chain.blocks.head.timestamp - 40 * 3600
    times, temps = reefer_readings(
        start, 30, 11.5, seed=seed, warm=WarmSpell(after_h=20, hours=6, peak_c=24.0)
    )
    csv = logger_csv(times, temps)
    log = build_bundle(
        world.store, {"stage": "transport", "vehicle": "reefer 70-1234"}, {"logger.csv": csv}
    ).onchain
    data = transport_data(int(temps.min() * 100), int(temps.max() * 100))
    provenance.addStep(lot, Stage.TRANSPORT, log.digest, log.codec, data, sender=community)
    return ColdChainTrip(lot, log, csv)


def attest_trip(world: World, chain, accounts, trip: ColdChainTrip) -> None:
    """The oracle's signed verdict on the trip's log, sent by the deployer."""
    from oracle.coldchain import analyse, load_rules, read_log
    from oracle.coldchain.service import attestation_of
    from tambon.coldchain import sign_coldchain

    rules, registry = load_rules(), world.registry
    report = analyse(read_log(trip.csv), rules.for_crop(MANGO), rules.sha256)
    item = attestation_of(trip.lot, trip.log.digest, report, rules.sha256, chain.blocks.head.timestamp)
    signature = sign_coldchain(item, ORACLE_KEY, chain.chain_id, registry.address)
    registry.attestColdChain(item.as_tuple(), signature, sender=accounts[0])


@dataclass
class World:
    store: LocalStore
    node: ThreadServer
    gateway_url: str
    chain_id: int
    escrow: object
    provenance: object
    registry: object
    thb: object
    community: object
    packer: object
    seller: object
    members: list
    lot: int = 0  # the field lot (later split)
    boxes: list[int] = field(default_factory=list)  # boxes split from it; boxes[0] is sold
    tampered: int = 0
    xss: int = 0
    merged: int = 0  # made by merging two small lots of the community (`merged_from`)
    merged_from: list[int] = field(default_factory=list)
    grant_thb: int = 0
    grant_eth: int = 0
    corrupted_cid: str = ""
    evidence: dict[str, str] = field(default_factory=dict)

    @property
    def sold_box(self) -> int:
        return self.boxes[0]


class Decisions:
    """Council decisions signed by three members, as their wallets would (eth_signTypedData_v4)."""

    def __init__(self, escrow, members, chain_id: int, relayer) -> None:
        self.escrow, self.members, self.chain_id, self.relayer = escrow, members, chain_id, relayer

    def blob(self, primary: str, message: dict, signers=None) -> bytes:
        data = typed_data(primary, message, domain(ESCROW_DOMAIN_NAME, self.chain_id, self.escrow.address))
        signers = signers or self.members[:3]
        return pack_signatures([CouncilApproval(s.address, sign(data, s.private_key)) for s in signers])

    def deadline(self, chain) -> int:
        return chain.pending_timestamp + DAY

    def governance(self, chain, primary: str, method, **fields) -> None:
        deadline = self.deadline(chain)
        message = {**fields, "nonce": self.escrow.council_nonce(), "deadline": deadline}
        method(*fields.values(), deadline, self.blob(primary, message), sender=self.relayer)

    def release(self, chain, grant_id: int, milestone_id: int) -> None:
        m = self.escrow.milestone(grant_id, milestone_id)
        deadline = self.deadline(chain)
        message = {
            "grantId": grant_id,
            "milestoneId": milestone_id,
            "evidence": m.evidence,
            "amount": m.amount,
            "nonce": m.nonce,
            "deadline": deadline,
        }
        self.escrow.release(
            grant_id, milestone_id, deadline, self.blob("Release", message), sender=self.relayer
        )

    def reject(self, chain, grant_id: int, milestone_id: int, reason: bytes) -> None:
        m = self.escrow.milestone(grant_id, milestone_id)
        deadline = self.deadline(chain)
        message = {
            "grantId": grant_id,
            "milestoneId": milestone_id,
            "evidence": m.evidence,
            "reason": reason,
            "nonce": m.nonce,
            "deadline": deadline,
        }
        self.escrow.reject(
            grant_id, milestone_id, reason, deadline, self.blob("Reject", message), sender=self.relayer
        )


def _metadata(
    store: LocalStore, name: str, description: str, image_cid: str, evidence_cid: str, attributes: list[dict]
) -> OnchainCid:
    doc = {
        "name": name,
        "description": description,
        "image": f"ipfs://{image_cid}/photo.png",
        "evidence": f"ipfs://{evidence_cid}",
        "attributes": attributes,
    }
    cid = store.add_bytes(json.dumps(doc, ensure_ascii=False).encode("utf-8"), "metadata.json")
    return OnchainCid.parse(cid)


def _bundle(store: LocalStore, record: dict, colour: tuple[int, int, int]) -> OnchainCid:
    return build_bundle(store, record, {"photo.png": png(240, 180, colour)}).onchain


_SHARED: dict[tuple[int, str], World] = {}


def shared_world(project, chain, accounts, deployment, root: Path) -> World:
    """One populated world per chain and deployment in a process (the test suites share the session node)."""
    key = (chain.chain_id, deployment.contracts["GrantEscrow"])
    if key not in _SHARED:
        store, node = evidence_node(root)
        _SHARED[key] = populate(project, chain, accounts, deployment, store, node)
    return _SHARED[key]


def populate(project, chain, accounts, deployment, store: LocalStore, node: ThreadServer) -> World:
    deployer = accounts[0]
    members = [accounts[i] for i in range(1, 6)]
    community, packer, seller = accounts[6], accounts[7], accounts[8]
    c = deployment.contracts
    escrow = project.grant_escrow.at(c["GrantEscrow"])
    provenance = project.batch_provenance.at(c["BatchProvenance"])
    registry = project.attestation_registry.at(c["AttestationRegistry"])
    thb = project.thb_token.at(c["ThbToken"])
    w = World(
        store,
        node,
        node.url,
        chain.chain_id,
        escrow,
        provenance,
        registry,
        thb,
        community,
        packer,
        seller,
        members,
    )
    council = Decisions(escrow, members, chain.chain_id, deployer)
    oracle = Account.from_key(ORACLE_KEY)
    old_oracle = Account.from_key(OLD_ORACLE_KEY)

    # council: producers, oracle keys, model
    council.governance(
        chain,
        "RegisterProducer",
        escrow.register_producer,
        registry=provenance.address,
        producer=community.address,
        registrationId="3-24-01-12/1-0042",
        name="วิสาหกิจชุมชนมะม่วงบ้านหนองสนิท",
    )
    council.governance(
        chain,
        "RegisterProducer",
        escrow.register_producer,
        registry=provenance.address,
        producer=packer.address,
        registrationId="3-24-01-12/1-0077",
        name="โรงคัดบรรจุสหกรณ์หนองสนิท",
    )
    for key in (oracle.address, old_oracle.address):
        council.governance(chain, "AddOracleKey", escrow.add_oracle_key, registry=registry.address, key=key)
    council.governance(
        chain, "ApproveModel", escrow.approve_model, registry=registry.address, modelSha256=MODEL_SHA
    )

    # the field lot: metadata + cultivation and harvest by the community
    cultivation = _bundle(
        store,
        {
            "stage": "cultivation",
            "place": {"name": "แปลง 3 บ้านหนองสนิท จ.สุรินทร์"},
            "who": "วิสาหกิจชุมชนมะม่วงบ้านหนองสนิท",
            "fertiliser": "organic compost",
            "geometry": {"type": "Point", "coordinates": [103.49, 14.88]},
        },
        (40, 140, 60),
    )
    harvest = _bundle(
        store,
        {
            "stage": "harvest",
            "place": {"name": "แปลง 3 บ้านหนองสนิท"},
            "weight_kg": 1200,
            "fsma204": {"event": "harvesting", "lot": "NS-2569-031"},
        },
        (240, 190, 40),
    )
    meta = _metadata(
        store,
        "มะม่วงน้ำดอกไม้สีทอง ล็อต NS-2569-031",
        "Nam Dok Mai mangoes from plot 3, Nong Sanit, Surin",
        str(harvest),
        str(harvest),
        [
            {"trait_type": "Variety", "value": "Nam Dok Mai Si Thong"},
            {"trait_type": "Farming", "value": "GAP certified"},
        ],
    )
    w.evidence.update(cultivation=str(cultivation), harvest=str(harvest), metadata=str(meta))
    w.lot = provenance.register(
        meta.digest, meta.codec, MANGO, 1_200_000, 20_400, sender=community
    ).return_value
    provenance.addStep(w.lot, CULTIVATION, cultivation.digest, cultivation.codec, 0, sender=community)
    provenance.addStep(w.lot, HARVEST, harvest.digest, harvest.codec, 0, sender=community)
    provenance.transferFrom(community, packer, w.lot, sender=community)

    # packing house: pack, grade, ship cold, split into boxes
    packing = _bundle(
        store,
        {
            "stage": "packing",
            "place": {"name": "โรงคัดบรรจุสหกรณ์หนองสนิท"},
            "fsma204": {"event": "initial_packing", "lot": "NS-2569-031"},
        },
        (250, 220, 120),
    )
    transport = _bundle(
        store,
        {
            "stage": "transport",
            "place": {"name": "Surin → Laem Chabang port"},
            "temperature_log_c": [3.1, 4.0, 5.2, 6.4],
            "vehicle": "reefer 70-1234",
        },
        (90, 130, 200),
    )
    w.evidence.update(packing=str(packing), transport=str(transport))
    provenance.addStep(w.lot, PROCESSING, packing.digest, packing.codec, 0, sender=packer)
    att = Attestation(w.lot, harvest.digest, Grade.CLASS_I, 3, 9120, MODEL_SHA, chain.blocks.head.timestamp)
    registry.attest(
        att.as_tuple(), sign_attestation(att, ORACLE_KEY, chain.chain_id, registry.address), sender=deployer
    )
    provenance.addStep(
        w.lot, TRANSPORT, transport.digest, transport.codec, transport_data(310, 640), sender=packer
    )
    boxes = []
    for i, colour in enumerate(((250, 200, 60), (245, 205, 70))):
        boxes.append(
            _metadata(
                store,
                f"มะม่วงน้ำดอกไม้ กล่อง {i + 1} (ล็อต NS-2569-031)",
                "Export box, 5 kg, packed at Nong Sanit cooperative",
                str(packing),
                str(packing),
                [{"trait_type": "Box", "value": str(i + 1)}],
            )
        )
        del colour
    first = provenance.split(w.lot, [(b.digest, b.codec, 5_000) for b in boxes], sender=packer).return_value
    w.boxes = [first, first + 1]
    graded = [
        Attestation(w.boxes[0], packing.digest, Grade.EXTRA, 2, 9630, MODEL_SHA, chain.blocks.head.timestamp),
        Attestation(
            w.boxes[1], transport.digest, Grade.ABSTAIN, 0, 4100, MODEL_SHA, chain.blocks.head.timestamp
        ),
    ]
    root = batch_root(graded)
    root_sig = sign(root_typed_data(root, len(graded), chain.chain_id, registry.address), ORACLE_KEY)
    registry.attestMany([a.as_tuple() for a in graded], root_sig, sender=deployer)
    provenance.transferFrom(packer, seller, w.boxes[0], sender=packer)
    sale = _bundle(
        store, {"stage": "sale", "place": {"name": "Thai Fresh Market, Los Angeles"}}, (200, 80, 80)
    )
    provenance.addStep(w.boxes[0], MARKETING, sale.digest, sale.codec, 0, sender=seller)

    # a tampered lot: corrupted evidence block, a grade by a key revoked later, evidence from elsewhere
    bad_meta = _metadata(
        store, "Tampered lot", "evidence altered after registration", str(harvest), str(harvest), []
    )
    w.tampered = provenance.register(
        bad_meta.digest, bad_meta.codec, MANGO, 800_000, 20_401, sender=community
    ).return_value
    altered = _bundle(
        store, {"stage": "harvest", "note": "this bundle's photo block is corrupted on disk"}, (10, 10, 10)
    )
    provenance.addStep(w.tampered, HARVEST, altered.digest, altered.codec, 0, sender=community)
    photo_cid = next(e.cid for e in store.ls(str(altered)) if e.name == "photo.png")
    block_path = store.blocks.path_for(digest_of(parse_cid(photo_cid)))
    block_path.write_bytes(b"not the photo that was registered")
    w.corrupted_cid = str(altered)
    revoked_att = Attestation(
        w.tampered, altered.digest, Grade.EXTRA, 1, 9900, MODEL_SHA, chain.blocks.head.timestamp
    )
    registry.attest(
        revoked_att.as_tuple(),
        sign_attestation(revoked_att, OLD_ORACLE_KEY, chain.chain_id, registry.address),
        sender=deployer,
    )
    foreign = Attestation(
        w.tampered, cultivation.digest, Grade.CLASS_II, 1, 8800, MODEL_SHA, chain.blocks.head.timestamp
    )
    registry.attest(
        foreign.as_tuple(),
        sign_attestation(foreign, ORACLE_KEY, chain.chain_id, registry.address),
        sender=deployer,
    )
    council.governance(
        chain, "RevokeOracleKey", escrow.revoke_oracle_key, registry=registry.address, key=old_oracle.address
    )

    # a lot whose metadata, record and producer name carry XSS payloads
    prankster = accounts.generate_test_account()
    deployer.transfer(prankster, 10**18)
    council.governance(
        chain,
        "RegisterProducer",
        escrow.register_producer,
        registry=provenance.address,
        producer=prankster.address,
        registrationId=XSS[:60],
        name=XSS,
    )
    xss_record = _bundle(store, {"place": {"name": XSS}, "note": XSS, XSS[:20]: "key"}, (1, 2, 3))
    xss_doc = {
        "name": XSS,
        "description": XSS,
        "image": "javascript:alert(1)",
        "attributes": [{"trait_type": XSS, "value": '"><svg onload=alert(1)>'}],
    }
    xss_meta = OnchainCid.parse(store.add_bytes(json.dumps(xss_doc).encode(), "metadata.json"))
    w.xss = provenance.register(
        xss_meta.digest, xss_meta.codec, MANGO, 1_000, 20_402, sender=prankster
    ).return_value
    provenance.addStep(w.xss, HARVEST, xss_record.digest, xss_record.codec, 0, sender=prankster)

    # two small lots of the community merged into one
    small = []
    for i in range(2):
        doc = _metadata(store, f"มะม่วงน้ำดอกไม้ ล็อตเล็ก {i + 1}", "small lot", str(harvest), str(harvest), [])
        small.append(
            provenance.register(
                doc.digest, doc.codec, MANGO, 20_000 + i, 20_400, sender=community
            ).return_value
        )
    merged_doc = _metadata(
        store, "มะม่วงน้ำดอกไม้ ล็อตรวม", "two small lots merged", str(harvest), str(harvest), []
    )
    w.merged = provenance.merge(small, merged_doc.digest, merged_doc.codec, sender=community).return_value
    w.merged_from = small

    # grants: THB to the community (paid, submitted, pending), ETH to the packing house (rejected)
    deadlines = [chain.pending_timestamp + (i + 1) * 30 * DAY for i in range(3)]
    proposal = OnchainCid.parse(store.add_bytes(b"proposal: mango packing shed", "proposal.txt"))
    w.grant_thb = escrow.create_grant(
        community,
        thb,
        200_000 * THB,
        [50_000 * THB, 100_000 * THB, 50_000 * THB],
        deadlines,
        proposal.digest,
        proposal.codec,
        sender=members[0],
    ).return_value
    thb.mint(deployer, 200_000 * THB, sender=deployer)
    thb.approve(escrow, 200_000 * THB, sender=deployer)
    escrow.fund(w.grant_thb, 150_000 * THB, sender=deployer)
    m0 = _bundle(store, {"milestone": "foundation poured", "place": {"name": "บ้านหนองสนิท"}}, (120, 120, 120))
    escrow.submit(w.grant_thb, 0, m0.digest, m0.codec, sender=community)
    council.release(chain, w.grant_thb, 0)
    escrow.fund(w.grant_thb, 50_000 * THB, sender=deployer)
    m1 = _bundle(store, {"milestone": "walls and roof", "place": {"name": "บ้านหนองสนิท"}}, (150, 110, 90))
    escrow.submit(w.grant_thb, 1, m1.digest, m1.codec, sender=community)
    w.evidence.update(milestone0=str(m0), milestone1=str(m1))

    w.grant_eth = escrow.create_grant(
        packer,
        "0x0000000000000000000000000000000000000000",
        2 * 10**18,
        [10**18, 10**18],
        deadlines[:2],
        proposal.digest,
        proposal.codec,
        sender=members[1],
    ).return_value
    escrow.fund(w.grant_eth, 2 * 10**18, value=2 * 10**18, sender=deployer)
    e0 = _bundle(store, {"milestone": "cold room ordered"}, (30, 60, 90))
    escrow.submit(w.grant_eth, 0, e0.digest, e0.codec, sender=packer)
    council.reject(chain, w.grant_eth, 0, hashlib.sha256(b"invoice missing").digest())
    return w
