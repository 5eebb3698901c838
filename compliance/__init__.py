"""Export compliance: FSMA 204 sortable spreadsheets, EUDR due-diligence data, GS1 Digital Link.

Pure functions over plain dataclasses (`compliance.model`): a batch's tracking events
with their `record.json` contents and on-chain references. Whatever reads the chain and the
evidence store (the CLI's reader in `compliance.source`, the website's batch history
service) builds those dataclasses; nothing here does I/O.
"""
