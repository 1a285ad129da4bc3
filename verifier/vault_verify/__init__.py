"""vault-verify: check vault's proofs offline, with Python, ``asn1crypto`` and ``cryptography`` only.

No server, no database, no network. The modules are the primitives vault itself uses:

* :mod:`vault_verify.ers` — RFC 4998 evidence records (§5.3 verification), over :mod:`vault_verify.asn1` (the
  RFC 4998 §3 ASN.1 types), :mod:`vault_verify.hashtree` (§4 hash trees) and :mod:`vault_verify.der` (X.690 DER);
* :mod:`vault_verify.tokens` — RFC 3161 timestamp tokens (RFC 5652 SignedData, RFC 5816 ESS certificates);
* :mod:`vault_verify.merkle` — RFC 6962 §2.1 Merkle tree hashes, inclusion and consistency proofs;
* :mod:`vault_verify.note` — C2SP signed notes and tlog checkpoints (Ed25519);
* :mod:`vault_verify.canonical` — RFC 8785 canonical JSON (journal entries);
* :mod:`vault_verify.package` — a whole export package, from its ZIP (:mod:`vault_verify.bagcheck`: the BagIt bag;
  :mod:`vault_verify.journalcheck`: the journal excerpt and its anchor);
* :mod:`vault_verify.replay` — a journal export replayed (:mod:`vault_verify.tiles`: C2SP tlog tiles;
  :mod:`vault_verify.anchors`: the TSA anchor chain; :mod:`vault_verify.tenantjournal`: a tenant's view);
* :mod:`vault_verify.report` — the result shape: named ``Check`` results with a status, gathered in a ``Report``;
* :mod:`vault_verify.cli` — the ``vault-verify`` command (``ers``, ``journal``, ``package``).
"""

__version__ = "0.1.0"
