"""Wire formats: deterministic CBOR for everything signed or hashed."""
