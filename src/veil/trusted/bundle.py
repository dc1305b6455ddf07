"""Function bundles: a manifest plus code, a digest over both, a tenant signature.

The digest is what the KMS registers, what the tenant signs and what every
receipt names. It covers the canonical CBOR of the manifest and the SHA-256
of the code, so tampering with any byte of either changes it. Outside the
tenant's machine and the enclave, a bundle exists only sealed (`SealedBundle`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

from veil.trusted.crypto import recipes
from veil.trusted.crypto.digest import sha256
from veil.trusted.crypto.hazmat import Suite, parse_suite
from veil.trusted.crypto.signing import SigningKey, VerifyKey
from veil.trusted.errors import MalformedMessage, Refused
from veil.trusted.wire import cbor

BUNDLE_VERSION: Final = 1
MAX_BUNDLE_SIZE: Final = 64 * 1024 * 1024
SIGN_CONTEXT: Final = b"veil/bundle-digest/v1"

RUNTIMES: Final = {
    "wasm": ("reactor", "wasi-command"),
    "python": ("component",),
    "js": ("quickjs",),
}


class BundleRefused(Refused):
    """A bundle that parses, but whose digest, signature or signer is not the one expected."""

    public_message = "bundle refused"


@dataclass(frozen=True)
class Limits:
    """What one invocation may use; enforced by the sandbox."""

    memory_pages: int = 32
    """64 KiB Wasm pages the instance may grow to."""
    fuel: int = 200_000_000
    """Wasm instructions (roughly) per invocation."""
    timeout_ms: int = 2_000
    """Wall-clock bound per invocation (epoch deadline), on top of fuel."""
    max_input: int = 1024 * 1024
    max_output: int = 1024 * 1024

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise MalformedMessage(f"limit {name} must be a positive integer")
        if self.memory_pages > 65536:
            raise MalformedMessage("memory_pages is over the 4 GiB Wasm limit")


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    runtime: str = "wasm"
    abi: str = "reactor"
    entrypoint: str = "veil_invoke"
    limits: Limits = field(default_factory=Limits)
    suite: str = Suite.X25519.value
    capture_logs: bool = False
    config: dict[str, str] = field(default_factory=dict)
    """`[config]` of veil.toml: plain values the guest reads like secrets; the host sees them."""

    def __post_init__(self) -> None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.config.items()):
            raise MalformedMessage("config must map names to strings")
        if (
            not self.name
            or len(self.name) > 128
            or not all(c.isalnum() or c in "-_./" for c in self.name)
        ):
            raise MalformedMessage("function name must be 1-128 of [A-Za-z0-9-_./]")
        if self.runtime not in RUNTIMES or self.abi not in RUNTIMES[self.runtime]:
            raise MalformedMessage(f"unsupported runtime/ABI {self.runtime}/{self.abi}")
        parse_suite(self.suite)

    def to_cbor_obj(self) -> dict[str, Any]:
        # No `config` key when empty: a bundle without config keeps the digest it always had.
        return {k: v for k, v in asdict(self).items() if v or k != "config"}

    @classmethod
    def from_cbor_obj(cls, obj: object) -> Manifest:
        m = cbor.check_map(
            obj,
            {
                "name": str,
                "version": str,
                "runtime": str,
                "abi": str,
                "entrypoint": str,
                "limits": dict,
                "suite": str,
                "capture_logs": bool,
                "config?": dict,
            },
        )
        limits = cbor.check_map(m["limits"], {k: int for k in Limits.__dataclass_fields__})
        return cls(**{**m, "limits": Limits(**limits)})


@dataclass(frozen=True)
class Bundle:
    manifest: Manifest
    code: bytes

    @property
    def digest(self) -> bytes:
        body = {"manifest": self.manifest.to_cbor_obj(), "code_sha256": sha256(self.code)}
        return sha256(b"veil/bundle/v1\x00", cbor.encode(body))

    def to_bytes(self) -> bytes:
        return cbor.encode(
            {"v": BUNDLE_VERSION, "manifest": self.manifest.to_cbor_obj(), "code": self.code}
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Bundle:
        m = cbor.decode_map(
            data, limit=MAX_BUNDLE_SIZE, fields={"v": int, "manifest": dict, "code": bytes}
        )
        if m["v"] != BUNDLE_VERSION:
            raise MalformedMessage(f"unsupported bundle version {m['v']}")
        return cls(Manifest.from_cbor_obj(m["manifest"]), m["code"])


@dataclass(frozen=True)
class SignedBundle:
    """A bundle with the tenant's signature over its digest."""

    bundle: Bundle
    signer: VerifyKey
    signature: bytes

    @classmethod
    def sign(cls, bundle: Bundle, key: SigningKey) -> SignedBundle:
        return cls(bundle, key.public, key.sign(SIGN_CONTEXT, bundle.digest))

    def verify(self, *, digest: bytes, signer: VerifyKey) -> Bundle:
        """Return the bundle if it has `digest` and is signed by `signer`, else refuse."""
        if self.signer != signer:
            raise BundleRefused("bundle is signed by another key than the registered signer")
        if self.bundle.digest != digest:
            raise BundleRefused("bundle digest is not the registered one")
        signer.verify(SIGN_CONTEXT, digest, self.signature)
        return self.bundle


@dataclass(frozen=True)
class SealedBundle:
    """A signed bundle as the host carries and stores it: the code sealed under a code key.

    The tenant seals each deploy under a fresh code key that only the KMS and
    attested enclaves get. Manifest, digest and signature stay clear (the host
    checks who signed what); the AAD binds the manifest and the digest, so code
    moved to another function or version does not open.
    """

    manifest: Manifest
    digest: bytes
    code: bytes
    """AES-256-GCM ciphertext of the code."""
    signer: VerifyKey
    signature: bytes

    @classmethod
    def seal(cls, signed: SignedBundle, code_key: bytes) -> SealedBundle:
        manifest, digest = signed.bundle.manifest, signed.bundle.digest
        code = recipes.seal_code(code_key, signed.bundle.code, _code_aad(manifest, digest))
        return cls(manifest, digest, code, signed.signer, signed.signature)

    def open(self, code_key: bytes, *, digest: bytes, signer: VerifyKey) -> Bundle:
        """The bundle, if its code opens under `code_key` and it has `digest` and `signer`."""
        code = recipes.open_code(code_key, self.code, _code_aad(self.manifest, digest))
        signed = SignedBundle(Bundle(self.manifest, code), self.signer, self.signature)
        return signed.verify(digest=digest, signer=signer)

    def to_bytes(self) -> bytes:
        clear = {"v": 2, "manifest": self.manifest.to_cbor_obj(), "digest": self.digest}
        return cbor.encode(
            {**clear, "code": self.code, "signer": self.signer.raw, "sig": self.signature}
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> SealedBundle:
        fields = {"v": int, "manifest": dict, "digest": bytes, "code": bytes, "signer": bytes}
        m = cbor.decode_map(data, limit=MAX_BUNDLE_SIZE + 1024, fields={**fields, "sig": bytes})
        if m["v"] != 2:
            raise MalformedMessage(f"unsupported sealed bundle version {m['v']}")
        manifest = Manifest.from_cbor_obj(m["manifest"])
        return cls(manifest, m["digest"], m["code"], VerifyKey(m["signer"]), m["sig"])


def _code_aad(manifest: Manifest, digest: bytes) -> bytes:
    return cbor.encode([manifest.to_cbor_obj(), digest])
