"""The tenant's client configuration: where the data lives, who the tenant is, which keys
it pinned.

`veil init` writes it (`<data-dir>/client.json` and the tenant key beside it)
and the CLI pins the KMS and verifier keys into it on first contact; the SDK
reads the same file (`Client.from_config()`), so a script trusts exactly
what the CLI trusts. Read by both, it lives here, below the CLI.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from veil.client.keys import load_key
from veil.client.trust import TrustAnchors
from veil.registration import SealKey
from veil.trusted.crypto.signing import SigningKey, VerifyKey

CONFIG_FILE = "client.json"
KEY_FILE = "tenant.key"
DEFAULT_GATEWAY_PORT = 7070
DEFAULT_TRUST_PORT = 7071


def default_data_dir() -> Path:
    """`$VEIL_DATA_DIR`, or ~/.local/share/veil: where `veil up` and the CLI keep state."""
    return Path(os.environ.get("VEIL_DATA_DIR", Path.home() / ".local/share/veil"))


class NotInitialised(RuntimeError):
    """No tenant configuration yet: `veil init` makes one."""


class TrustNotPinned(NotInitialised):
    """A configuration whose KMS key is not pinned yet (`veil init` ran, no command since):
    unlike `NotInitialised` proper, the fix is one CLI command against the running platform."""


@dataclass
class ClientConfig:
    tenant: str
    gateway: str = f"http://127.0.0.1:{DEFAULT_GATEWAY_PORT}"
    kms: str = f"http://127.0.0.1:{DEFAULT_TRUST_PORT}"
    kms_key: str | None = None
    kms_seal_key: dict[str, str] | None = None
    """`veil.registration.SealKey` as JSON: deploys seal code keys and secrets to it."""
    verifier_keys: list[str] = field(default_factory=list)
    allow_sim: bool = True

    @classmethod
    def load(cls, data_dir: Path) -> ClientConfig:
        path = data_dir / CONFIG_FILE
        if not path.exists():
            raise NotInitialised(f"no tenant set up in {data_dir}: run `veil init` first")
        return cls(**json.loads(path.read_text()))

    def save(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / CONFIG_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n")

    def tenant_key(self, data_dir: Path) -> SigningKey:
        return load_key(data_dir / KEY_FILE)

    @property
    def pinned(self) -> bool:
        return self.kms_key is not None

    def trust(self) -> TrustAnchors:
        """The pinned keys; the seal key is checked against the pinned KMS key on every load."""
        if self.kms_key is None:
            raise TrustNotPinned(
                "no KMS key pinned yet: run a `veil` command against the platform"
                " (e.g. `veil ls`) to pin it"
            )
        kms_key = VerifyKey(bytes.fromhex(self.kms_key))
        seal = self.kms_seal_key
        return TrustAnchors(
            kms_key,
            tuple(VerifyKey(bytes.fromhex(k)) for k in self.verifier_keys),
            allow_sim=self.allow_sim,
            kms_seal_key=None if seal is None else SealKey.from_json(seal, kms_key),
        )
