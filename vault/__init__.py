"""vault: a long-term evidence archive for registered-mail proofs, e-mail proofs and consent records."""

import warnings

__version__ = "0.1.0"

# pyhanko imports cryptography's DSA key types, which warn on import; vault signs and accepts no DSA, and the two
# lines of noise opened every server log. Exactly that warning from that module, in every vault process.
warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"pyhanko\.sign\.signers\.pdf_cms")
