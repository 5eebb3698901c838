"""Producer registry: council-only, revocable, history kept."""

import ape


def test_register_producer__shown_with_id_and_name(provenance, council, producer):
    receipt = provenance.registerProducer(producer, "1-12-04-01/1-0042", "วิสาหกิจชุมชนหนองสนิท", sender=council)
    [event] = receipt.events.filter(provenance.ProducerRegistered)
    assert event.account == producer and event.name == "วิสาหกิจชุมชนหนองสนิท"
    record = provenance.producerOf(producer)
    assert record.registrationId == "1-12-04-01/1-0042" and record.name == "วิสาหกิจชุมชนหนองสนิท"
    assert record.registeredAt > 0 and record.revokedAt == 0
    assert provenance.isRegisteredProducer(producer)


def test_revoke_producer__keeps_record_with_time(provenance, council, producer, chain):
    provenance.registerProducer(producer, "REG-1", "Nong Sanit rice group", sender=council)
    receipt = provenance.revokeProducer(producer, sender=council)
    assert receipt.events.filter(provenance.ProducerRevoked)[0].account == producer
    record = provenance.producerOf(producer)
    assert record.name == "Nong Sanit rice group" and record.revokedAt == chain.blocks.head.timestamp
    assert not provenance.isRegisteredProducer(producer)
    # Registering again reinstates the enterprise.
    provenance.registerProducer(producer, "REG-1", "Nong Sanit rice group", sender=council)
    assert provenance.isRegisteredProducer(producer)


def test_register_producer__not_owner__reverts(provenance, attacker):
    with ape.reverts("ownable: caller is not the owner"):
        provenance.registerProducer(attacker, "X", "fake", sender=attacker)


def test_revoke_producer__not_owner__reverts(provenance, council, producer, attacker):
    provenance.registerProducer(producer, "REG-1", "group", sender=council)
    with ape.reverts("ownable: caller is not the owner"):
        provenance.revokeProducer(producer, sender=attacker)


def test_revoke_producer__unknown_or_twice__reverts(provenance, council, producer):
    with ape.reverts("provenance: producer not registered"):
        provenance.revokeProducer(producer, sender=council)
    provenance.registerProducer(producer, "REG-1", "group", sender=council)
    provenance.revokeProducer(producer, sender=council)
    with ape.reverts("provenance: producer not registered"):
        provenance.revokeProducer(producer, sender=council)


def test_register_producer__bad_input__reverts(provenance, council, producer):
    with ape.reverts("provenance: zero address"):
        provenance.registerProducer("0x" + "0" * 40, "REG", "n", sender=council)
    with ape.reverts("provenance: empty registration id"):
        provenance.registerProducer(producer, "", "n", sender=council)


def test_ownership__moves_to_the_council_escrow(project, council, accounts):
    escrow_stand_in = accounts[8]
    contract = project.batch_provenance.deploy(escrow_stand_in, sender=council)
    assert contract.owner() == escrow_stand_in
    with ape.reverts("ownable: caller is not the owner"):
        contract.registerProducer(council, "R", "n", sender=council)
    with ape.reverts("provenance: zero owner"):
        project.batch_provenance.deploy("0x" + "0" * 40, sender=council)
