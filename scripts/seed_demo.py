"""Seed the Nong Sanit demo on a running local stack (chain + evidence node; `--phase web` also the site).

Drawn from the Nong Sanit food-security model: the อบต. of Nong Sanit (council of five, threshold
three) funds two community enterprises with 200,000 THB each in the demo THB stablecoin, and their
rice, mango and durian lots walk through all five value-chain stages with evidence bundles.

    python scripts/seed_demo.py --phase chain   # producers, oracle key, model, grants, batches
    python scripts/seed_demo.py --phase web     # one council signature collected through the site

Both phases are idempotent: what is already on the chain is left alone.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import httpx
from PIL import Image, ImageDraw
from web3.logs import DISCARD

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from compliance.samples import LA_IMPORTER  # noqa: E402
from evidence.bundle import build_bundle, require_kdes  # noqa: E402
from evidence.cids import digest_of, parse_cid  # noqa: E402
from evidence.remote import RpcStore  # noqa: E402
from evidence.settings import get_evidence_settings  # noqa: E402
from evidence.store import LocalStore  # noqa: E402
from oracle.coldchain import load_rules  # noqa: E402
from oracle.coldchain.synth import BANGKOK, WarmSpell, logger_csv, reefer_readings  # noqa: E402
from oracle.synth import render, render_ood  # noqa: E402
from tambon.accounts import demo_account  # noqa: E402
from tambon.chain import Chain  # noqa: E402
from tambon.cid import OnchainCid  # noqa: E402
from tambon.grants import Grants, council_decision  # noqa: E402
from tambon.provenance import Stage, encode_transport  # noqa: E402
from tambon.settings import get_settings  # noqa: E402
from tambon.tx import send  # noqa: E402
from tambon.typed_data import sign  # noqa: E402

THB = 10**18
TREASURY, MEMBERS = demo_account(0), [demo_account(i) for i in range(1, 6)]
RICE_GROUP, FRUIT_GROUP = demo_account(6), demo_account(7)
PACK_HOUSE, CARRIER, ORACLE, EXPORTER = demo_account(8), demo_account(9), demo_account(10), demo_account(11)
SIGNERS = MEMBERS[:3]
MODEL_SHA256 = REPO / "oracle" / "model" / "grader.onnx.sha256"
SEED = 2026

SAO = {
    "name": "องค์การบริหารส่วนตำบลหนองสนิท (Nong Sanit Subdistrict Administrative Organization)",
    "phone": "+66 44 503 210",
    "address": {"district": "Chom Phra", "province": "Surin", "postal_code": "32180", "country": "TH"},
}
PACKER = {
    "name": "Surin Agri Packing House Co., Ltd.",
    "phone": "+66 44 511 900",
    "address": {"street": "45 Thetsaban 1 Rd", "city": "Surin", "postal_code": "32000", "country": "TH"},
    "gln": "8851234000203",
}
BUYER = LA_IMPORTER  # the Los Angeles importer of the FSMA 204 sample journey
CARRIER_COMPANY = {
    "name": "บริษัท สุรินทร์ห้องเย็นขนส่ง จำกัด (Surin Cold Express Co., Ltd.)",
    "phone": "+66 44 520 118",
    "address": {"city": "Surin", "postal_code": "32000", "country": "TH"},
}


@dataclass(frozen=True)
class Enterprise:
    account: object
    registration_id: str
    name: str
    farm: dict
    gps: tuple[float, float]


RICE_ENTERPRISE = Enterprise(
    RICE_GROUP,
    "3-32-05-02/1-0017",
    "วิสาหกิจชุมชนกลุ่มข้าวหอมมะลิหนองสนิท",
    {
        "name": "วิสาหกิจชุมชนกลุ่มข้าวหอมมะลิหนองสนิท (Nong Sanit Hom Mali Rice Community Enterprise)",
        "phone": "+66 89 245 1170",
        "address": {
            "street": "7 หมู่ 3",
            "district": "Chom Phra",
            "province": "Surin",
            "postal_code": "32180",
            "country": "TH",
        },
        "field_name": "นาแปลงรวม 2 (Collective paddy 2)",
    },
    (14.869512, 103.621874),
)
FRUIT_ENTERPRISE = Enterprise(
    FRUIT_GROUP,
    "3-32-05-02/1-0023",
    "วิสาหกิจชุมชนกลุ่มไม้ผลบ้านโคกกลาง",
    {
        "name": "วิสาหกิจชุมชนกลุ่มไม้ผลบ้านโคกกลาง (Ban Khok Klang Fruit Growers Community Enterprise)",
        "phone": "+66 81 733 0452",
        "address": {
            "street": "21 หมู่ 8",
            "district": "Chom Phra",
            "province": "Surin",
            "postal_code": "32180",
            "country": "TH",
        },
        "field_name": "สวนรวม 1 (Orchard 1)",
    },
    (14.882043, 103.640117),
)

# crop code, commodity, lot code, kilograms, harvest date, transport temperature range (°C), enterprise
LOTS = [
    (101, {"name": "rice", "variety": "Hom Mali 105", "scientific_name": "Oryza sativa", "hs_code": "100630",
           "gtin": "8851234000210"}, "NS-RC-261020-A", 2500.0, date(2026, 10, 20), (24.0, 31.5), RICE_ENTERPRISE),
    (201, {"name": "mango", "variety": "Nam Dok Mai Si Thong", "scientific_name": "Mangifera indica",
           "hs_code": "080450", "gtin": "8851234000227"}, "NS-MG-261102-A", 1200.0, date(2026, 11, 2), (10.5, 13.0),
     FRUIT_ENTERPRISE),
    (202, {"name": "durian", "variety": "Monthong", "scientific_name": "Durio zibethinus", "hs_code": "081060",
           "gtin": "8851234000234"}, "NS-DR-261105-A", 800.0, date(2026, 11, 5), (13.0, 15.0), FRUIT_ENTERPRISE),
]  # fmt: skip


def log(message: str) -> None:
    print(message, flush=True)


# --------------------------------------------------------------------------- evidence content


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def document_photo(title: str, lines: list[str], seed: int) -> bytes:
    """A photographed receipt or site note: what communities upload as milestone evidence."""
    image = Image.new("RGB", (640, 480), (236, 232, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 30, 600, 450), fill=(252, 251, 247), outline=(120, 120, 120))
    draw.text((60, 50), title, fill=(20, 20, 20))
    for i, line in enumerate(lines):
        draw.text((60, 100 + 28 * i), line, fill=(40, 40, 40))
    draw.text(
        (60, 410), f"ref {hashlib.sha256(f'{title}{seed}'.encode()).hexdigest()[:12]}", fill=(90, 90, 90)
    )
    return jpeg(image)


def produce_photos(crop: int, lot_index: int) -> dict[str, bytes]:
    """Photos of the lot on the grading mat. Rice grain is not a fruit the grader knows: it abstains."""
    if crop == 101:
        grain, _ = render_ood(SEED, lot_index, "noise")
        return {"paddy.jpg": grain}
    grades = ["EXTRA", "CLASS_I", "EXTRA"]
    return {
        f"lot-{i + 1}.jpg": render(SEED + lot_index, i, grade=g, marker=True)[0] for i, g in enumerate(grades)
    }


def lot_records(
    commodity: dict, lot: str, kg: float, day: date, temps: tuple[float, float], e: Enterprise
) -> dict:
    """record.json of each step, schema v1, with the FSMA 204 KDEs of its tracking event."""
    base = {"schema_version": "1", "commodity": commodity}
    harvester = {"business_name": e.farm["name"], "phone": e.farm["phone"]}
    d = day.isoformat()
    packed = f"{commodity['name'].title()} {commodity['variety']}, lot {lot}"
    cases = int(kg // 10)
    return {
        "cultivation": {
            **base, "event": "cultivation", "date": (day - timedelta(days=120)).isoformat(), "farm": e.farm,
            "notes": "Organic compost from the village bank; no synthetic pesticide (PGS Surin).",
            "gps": {"lat": e.gps[0], "lon": e.gps[1], "accuracy_m": 6},
        },
        "harvesting": {
            **base, "event": "harvesting", "date": d, "datetime": f"{d}T06:30:00+07:00",
            "quantity": {"value": kg, "unit": "kg"}, "farm": e.farm, "harvester": harvester, "recipient": PACKER,
            "reference_documents": [{"type": "harvest log", "number": f"HL-{lot}"}],
            "gps": {"lat": e.gps[0], "lon": e.gps[1], "accuracy_m": 8},
        },
        "cooling": {
            **base, "event": "cooling", "date": d, "quantity": {"value": kg, "unit": "kg"}, "location": PACKER,
            "farm": e.farm, "recipient": PACKER,
            "reference_documents": [{"type": "cooling log", "number": f"CL-{lot}"}],
            "temperature_log": [{"time": f"{d}T10:00:00+07:00", "celsius": temps[1]}],
        },
        "initial_packing": {
            **base, "event": "initial_packing", "date": (day + timedelta(days=1)).isoformat(),
            "received": {"date": d, "quantity": {"value": kg, "unit": "kg"}},
            "cooling": {"date": d, "location": PACKER}, "farm": e.farm, "harvester": harvester,
            "traceability_lot_code": lot, "tlc_source": PACKER, "product_description": packed, "location": PACKER,
            "quantity": {"value": cases, "unit": "case"},
            "reference_documents": [{"type": "production log", "number": f"PK-{lot}"}],
        },
        "shipping": {
            **base, "event": "shipping", "date": (day + timedelta(days=2)).isoformat(), "traceability_lot_code": lot,
            "product_description": packed, "quantity": {"value": cases, "unit": "case"},
            "ship_from": PACKER, "ship_to": BUYER, "tlc_source": PACKER, "carrier": CARRIER_COMPANY,
            "reference_documents": [{"type": "bill of lading", "number": f"BL-{lot}"}],
            "temperature_log": [
                {"time": f"{(day + timedelta(days=2)).isoformat()}T{h:02d}:00:00+07:00", "celsius": t}
                for h, t in ((8, temps[0]), (14, round((temps[0] + temps[1]) / 2, 1)), (20, temps[1]))
            ],
        },
        "receiving": {
            **base, "event": "receiving", "date": (day + timedelta(days=18)).isoformat(), "traceability_lot_code": lot,
            "product_description": packed, "quantity": {"value": cases, "unit": "case"},
            "ship_from": PACKER, "ship_to": BUYER, "tlc_source": PACKER,
            "reference_documents": [{"type": "bill of lading", "number": f"BL-{lot}"}],
        },
    }  # fmt: skip


# --------------------------------------------------------------------------- chain helpers


def decide(grants: Grants, primary: str, **fields) -> None:
    council_decision(grants, TREASURY, primary, fields, SIGNERS)


def seed_council(chain: Chain, grants: Grants) -> None:
    provenance = chain.contract("BatchProvenance")
    registry = chain.contract("AttestationRegistry")
    for e in (RICE_ENTERPRISE, FRUIT_ENTERPRISE):
        if not provenance.functions.isRegisteredProducer(e.account.address).call():
            decide(grants, "RegisterProducer", registry=provenance.address, producer=e.account.address,
                   registrationId=e.registration_id, name=e.name)  # fmt: skip
            log(f"registered producer {e.name}")
    if not registry.functions.is_active_key(ORACLE.address).call():
        decide(grants, "AddOracleKey", registry=registry.address, key=ORACLE.address)
        log(f"oracle key {ORACLE.address} added")
    model = bytes.fromhex(MODEL_SHA256.read_text().split()[0])
    if not registry.functions.is_approved_model(model).call():
        decide(grants, "ApproveModel", registry=registry.address, modelSha256=model)
        log(f"model {model.hex()[:12]}… approved")
    rules = bytes.fromhex(load_rules().sha256)
    if not registry.functions.is_approved_model(rules).call():
        decide(grants, "ApproveModel", registry=registry.address, modelSha256=rules)
        log(f"cold-chain rules {rules.hex()[:12]}… approved")


def milestone_evidence(store, title: str, lines: list[str], seed: int) -> OnchainCid:
    record = {"kind": "milestone-evidence", "title": title, "items": lines}
    photos = {
        "receipt.jpg": document_photo(title, lines, seed),
        "site.jpg": render(SEED, 900 + seed, marker=False)[0],
    }
    return build_bundle(store, record, photos).onchain


def seed_grants(chain: Chain, grants: Grants, store) -> None:
    if grants.count() > 0:
        log("grants already seeded")
        return
    thb = chain.contract("ThbToken")
    send(chain.w3, TREASURY, thb.functions.mint(TREASURY.address, 400_000 * THB))
    deadline = grants.now() + 365 * 86_400
    plans = [
        (RICE_GROUP, "โครงการโรงสีข้าวชุมชนและบรรจุภัณฑ์ส่งออก (community rice mill and export packaging)",
         [(50_000, "organic seed and compost"), (60_000, "rice mill upgrade"), (40_000, "vacuum packaging and GS1 labels"),
          (50_000, "export certification (GAP, organic)")]),
        (FRUIT_GROUP, "โครงการห้องเย็นและโรงคัดบรรจุผลไม้ (cold room and fruit packing line)",
         [(80_000, "cold room 12 m³"), (70_000, "sorting table and grading mats"), (50_000, "training: FSMA 204 records")]),
    ]  # fmt: skip
    for recipient, title, milestones in plans:
        proposal = OnchainCid.parse(
            store.add_bytes(
                json.dumps({"title": title, "milestones": milestones}, ensure_ascii=False).encode(),
                "proposal.json",
            )
        )
        plan = [
            (amount * THB, deadline - (len(milestones) - i) * 30 * 86_400)
            for i, (amount, _) in enumerate(milestones)
        ]
        grant_id = grants.create(MEMBERS[0], recipient.address, thb.address, 200_000 * THB, plan, proposal)
        grants.fund(TREASURY, grant_id, 200_000 * THB)
        log(f"grant {grant_id}: {title}, funded 200,000 THB")

    def submit(grant_id: int, milestone_id: int, who, seed: int, extra: str = "") -> None:
        what = plans[grant_id][2][milestone_id][1]
        cid = milestone_evidence(store, f"Milestone {milestone_id + 1}: {what}",
                                 [f"Receipt no. {1000 + seed}", f"Amount {plans[grant_id][2][milestone_id][0]:,} THB",
                                  extra or "Photos of the work attached"], seed)  # fmt: skip
        grants.submit(who, grant_id, milestone_id, cid)

    def release(grant_id: int, milestone_id: int) -> None:
        data = grants.release_typed_data(grant_id, milestone_id)
        signatures = [sign(data, m.key) for m in SIGNERS]
        grants.release(TREASURY, grant_id, milestone_id, int(data["message"]["deadline"]), signatures)

    # Rice group: one paid, one awaiting signatures, one rejected with a reason then resubmitted, one pending.
    submit(0, 0, RICE_GROUP, 1)
    release(0, 0)
    submit(0, 1, RICE_GROUP, 2)
    submit(0, 2, RICE_GROUP, 3)
    reason = OnchainCid.parse(store.add_bytes(
        "ใบเสร็จค่าฉลาก GS1 ไม่ชัด กรุณาแนบใบเสร็จฉบับจริงและภาพถ่ายบรรจุภัณฑ์ที่ติดฉลากแล้ว\n"
        "The GS1 label receipt is unreadable: attach the original receipt and a photo of labelled packs.".encode(),
        "reason.txt"))  # fmt: skip
    council_decision(grants, TREASURY, "Reject", _reject_fields(grants, 0, 2, reason), SIGNERS)
    submit(0, 2, RICE_GROUP, 4, "Original receipt + labelled packs (resubmitted)")
    # Fruit group: first milestone paid, second under review.
    submit(1, 0, FRUIT_GROUP, 5)
    release(1, 0)
    submit(1, 1, FRUIT_GROUP, 6)
    log("grants: milestones paid, awaiting signatures, rejected and resubmitted")


def _reject_fields(grants: Grants, grant_id: int, milestone_id: int, reason: OnchainCid) -> dict:
    m = grants.milestone(grant_id, milestone_id)
    return {"grantId": grant_id, "milestoneId": milestone_id, "evidence": OnchainCid.parse(m.evidence).digest,
            "reason": reason.digest, "nonce": m.nonce}  # fmt: skip


def seed_batches(chain: Chain, store) -> None:
    provenance = chain.contract("BatchProvenance")
    if provenance.functions.totalSupply().call() > 0:
        log("batches already seeded")
        return
    w3 = chain.w3
    for index, (crop, commodity, lot, kg, day, temps, enterprise) in enumerate(LOTS):
        records = lot_records(commodity, lot, kg, day, temps, enterprise)
        photos = produce_photos(crop, index)
        metadata = {
            "name": f"{commodity['name'].title()} {commodity['variety']} · lot {lot}",
            "description": f"{kg:,.0f} kg of {commodity['variety']} {commodity['name']} from {enterprise.farm['name']}, "
            f"Chom Phra, Surin. Graded on a Tambon Trust grading mat.",
            "image": next(iter(photos)),
            "attributes": [
                {"trait_type": "Crop", "value": commodity["name"]},
                {"trait_type": "Variety", "value": commodity["variety"]},
                {"trait_type": "Lot", "value": lot},
                {"trait_type": "GTIN", "value": commodity["gtin"]},
                {"trait_type": "Quantity (kg)", "value": kg, "display_type": "number"},
                {"trait_type": "Harvest date", "value": day.isoformat()},
            ],
        }
        harvest = build_bundle(
            store,
            records["harvesting"],
            {**photos, "metadata.json": json.dumps(metadata, ensure_ascii=False).encode()},
            validate=require_kdes,
        ).onchain
        producer = enterprise.account
        batch_id = register(w3, provenance, producer, harvest, crop, kg, day)
        log(f"batch {batch_id}: {metadata['name']}")

        walk_lot(w3, provenance, store, batch_id, producer, records, photos, temps)

    # Each farmer keeps one lot still growing in the field, open for the steps they capture on a phone.
    growing_lots = ((RICE_ENTERPRISE, LOTS[0]), (FRUIT_ENTERPRISE, LOTS[1]))
    for offset, (enterprise, (crop, commodity, lot, kg, day, temps, _e)) in enumerate(growing_lots):
        next_day = day + timedelta(days=120)
        records = lot_records(commodity, lot.replace("-A", "-B"), kg, next_day, temps, enterprise)
        field_photos = produce_photos(crop, len(LOTS) + offset)  # graded like every lot
        growing = build_bundle(store, records["cultivation"], field_photos, validate=require_kdes).onchain
        batch_id = register(w3, provenance, enterprise.account, growing, crop, kg, next_day)
        log(
            f"batch {batch_id}: {commodity['name']} still growing, held by {enterprise.name} for field capture"
        )

    # One more mango lot walked like the first, whose receiving record is then altered on the node.
    crop, commodity, lot, kg, day, temps, enterprise = LOTS[1]
    records = lot_records(commodity, lot.replace("-A", "-C"), kg, day, temps, enterprise)
    photos = produce_photos(crop, len(LOTS) + len(growing_lots))
    harvest = build_bundle(store, records["harvesting"], photos, validate=require_kdes).onchain
    batch_id = register(w3, provenance, enterprise.account, harvest, crop, kg, day)
    alter_on_node(walk_lot(w3, provenance, store, batch_id, enterprise.account, records, photos, temps))
    log(f"batch {batch_id}: {commodity['name']} whose receiving record no longer matches the chain")


def register(w3, provenance, producer, evidence: OnchainCid, crop: int, kg: float, day: date) -> int:
    """Register a lot (its quantity in grams, its day as days since 1970) and return its batch id."""
    call = provenance.functions.register(
        evidence.digest, evidence.codec, crop, int(kg * 1000), (day - date(1970, 1, 1)).days
    )
    receipt = send(w3, producer, call)
    return provenance.events.BatchRegistered().process_receipt(receipt, errors=DISCARD)[0]["args"]["batchId"]


def alter_on_node(bundle_cid: str) -> None:
    """Overwrite a bundle's record in the node's own files, as a careless or dishonest operator could: the
    chain still holds the bundle's CID, so the lot's page (and `tambon verify batch`) shows its evidence
    check failing, the other lots untouched."""
    store = LocalStore(get_evidence_settings().resolved_store_dir)
    record = next(entry.cid for entry in store.ls(bundle_cid) if entry.name == "record.json")
    store.blocks.path_for(digest_of(parse_cid(record))).write_bytes(
        b'{"note": "not the record that was registered"}'
    )


def transport_log(
    day: date, temps: tuple[float, float], seed: int, dock_wait: bool
) -> tuple[bytes, tuple[float, float], dict]:
    """The carrier's logger export for a 30 h trip leaving at 08:00 two days after harvest.

    Made in code (oracle.coldchain.synth; no licensed real logger traces yet): the reefer cycles
    around the middle of the lot's range; with `dock_wait` the load waits 6 h on a warm dock at the
    port (the durian lot), so the demo shows an excursion. Returns the CSV, the trip's (min, max) °C for the step's
    data word and the record's transport window.
    """
    leave = datetime.combine(day + timedelta(days=2), time(8, 0), tzinfo=BANGKOK)
    warm = WarmSpell(after_h=22.0, hours=6.0, peak_c=24.0) if dock_wait else None
    times, celsius = reefer_readings(int(leave.timestamp()), 30, round(sum(temps) / 2, 1), 5.0, seed, warm)
    arrive = leave + timedelta(hours=30)
    window = {"departed": leave.isoformat(), "arrived": arrive.isoformat()}
    return logger_csv(times, celsius, f"TL-{seed:04d}"), (float(celsius.min()), float(celsius.max())), window


def walk_lot(w3, provenance, store, batch_id: int, producer, records: dict, photos: dict, temps) -> str:
    """The lot's life after registration: farm steps, packing house, cold chain, buyer. Returns the CID of
    the buyer's receiving bundle."""

    def step(holder, stage: str, record: dict, data: int = 0, extra_photos: dict | None = None) -> str:
        bundle = build_bundle(store, record, extra_photos or {}, validate=require_kdes)
        call = provenance.functions.addStep(
            batch_id, Stage[stage], bundle.onchain.digest, bundle.onchain.codec, data
        )
        send(w3, holder, call)
        return bundle.cid

    def hand_over(frm, to) -> None:
        send(w3, frm, provenance.functions.transferFrom(frm.address, to.address, batch_id))

    step(producer, "CULTIVATION", records["cultivation"])
    step(producer, "HARVEST", records["cooling"])
    hand_over(producer, PACK_HOUSE)
    step(
        PACK_HOUSE,
        "PROCESSING",
        records["initial_packing"],
        extra_photos={"packed.jpg": next(iter(photos.values()))},
    )
    hand_over(PACK_HOUSE, CARRIER)
    day = date.fromisoformat(records["shipping"]["date"]) - timedelta(days=2)
    durian = records["shipping"]["commodity"]["name"] == "durian"
    csv, (low, high), window = transport_log(day, temps, batch_id, dock_wait=durian)
    shipping = {**records["shipping"], "transport": window}
    step(CARRIER, "TRANSPORT", shipping, encode_transport(low, high), extra_photos={"logger.csv": csv})
    hand_over(CARRIER, EXPORTER)
    return step(EXPORTER, "MARKETING", records["receiving"])


def seed_signature(settings) -> None:
    """One member signs the rice mill release through the site, as a wallet would (2 more needed)."""
    base = f"{settings.public_url}/api/wallet/grants/0/milestones/1"
    with httpx.Client(timeout=30) as http:
        round_ = http.get(f"{base}/release").raise_for_status().json()
        signer = MEMBERS[3]
        if any(s.lower() == signer.address.lower() for s in round_.get("signers", [])):
            log("signature already collected")
            return
        data = round_["typed_data"]
        signature = "0x" + sign(data, signer.key).hex()
        http.post(
            f"{base}/signatures",
            json={
                "signer": signer.address,
                "signature": signature,
                "deadline": int(data["message"]["deadline"]),
            },
        ).raise_for_status()
    log(f"collected {signer.address}'s signature for grant 0 milestone 1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phase", choices=["chain", "web"], default="chain")
    phase = parser.parse_args().phase
    settings = get_settings()
    if phase == "web":
        seed_signature(settings)
        return
    chain = Chain(settings)
    chain.check_connected()
    grants = Grants(chain)
    # through the running node, as any uploader would
    store = RpcStore(settings.evidence_api_url, token=get_evidence_settings().token)
    try:
        seed_council(chain, grants)
        seed_grants(chain, grants, store)
        seed_batches(chain, store)
    finally:
        store.close()
    log("demo seeded")


if __name__ == "__main__":
    main()
