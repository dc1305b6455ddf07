"""Intel's signed JSON documents: TCB info (v2/v3, SGX and TDX) and QE identity (v2).

Parsed into plain dataclasses once per collateral load. Unknown TCB
statuses, missing fields and wrong types are `CollateralInvalid`: a
document Veil cannot read fully is not used at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from veil.attestation.errors import CollateralInvalid
from veil.attestation.verifier import TCB_STATUSES


@dataclass(frozen=True)
class TcbLevel:
    sgx_components: tuple[int, ...]
    pce_svn: int
    tdx_components: tuple[int, ...] | None
    status: str
    advisories: tuple[str, ...]


@dataclass(frozen=True)
class IsvLevel:
    """A TCB level keyed by one ISV SVN (QE identity, TDX module identity)."""

    isv_svn: int
    status: str
    advisories: tuple[str, ...]


@dataclass(frozen=True)
class TdxModuleIdentity:
    id: str
    mr_signer: bytes
    attributes: bytes
    attributes_mask: bytes
    levels: tuple[IsvLevel, ...]


@dataclass(frozen=True)
class TcbInfo:
    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    fmspc: bytes
    pce_id: bytes
    levels: tuple[TcbLevel, ...]
    tdx_module: TdxModuleIdentity | None
    tdx_module_identities: tuple[TdxModuleIdentity, ...]


@dataclass(frozen=True)
class QeIdentity:
    id: str
    version: int
    issue_date: datetime
    next_update: datetime
    misc_select: int
    misc_select_mask: int
    attributes: bytes
    attributes_mask: bytes
    mr_signer: bytes
    isv_prod_id: int
    levels: tuple[IsvLevel, ...]


def parse_tcb_info(text: bytes) -> TcbInfo:
    doc = _object(text, "TCB info")
    try:
        version = int(doc["version"])
        tdx_module = _module(doc["tdxModule"], "") if "tdxModule" in doc else None
        return TcbInfo(
            id=str(doc.get("id", "SGX")),
            version=version,
            issue_date=_date(doc["issueDate"]),
            next_update=_date(doc["nextUpdate"]),
            fmspc=bytes.fromhex(doc["fmspc"]),
            pce_id=bytes.fromhex(doc["pceId"]),
            levels=tuple(_tcb_level(level) for level in doc["tcbLevels"]),
            tdx_module=tdx_module,
            tdx_module_identities=tuple(
                _module(m, m["id"]) for m in doc.get("tdxModuleIdentities", [])
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CollateralInvalid(f"TCB info does not parse: {exc!r}") from None


def parse_qe_identity(text: bytes) -> QeIdentity:
    doc = _object(text, "QE identity")
    try:
        return QeIdentity(
            id=str(doc["id"]),
            version=int(doc["version"]),
            issue_date=_date(doc["issueDate"]),
            next_update=_date(doc["nextUpdate"]),
            misc_select=int(doc["miscselect"], 16),
            misc_select_mask=int(doc["miscselectMask"], 16),
            attributes=bytes.fromhex(doc["attributes"]),
            attributes_mask=bytes.fromhex(doc["attributesMask"]),
            mr_signer=bytes.fromhex(doc["mrsigner"]),
            isv_prod_id=int(doc["isvprodid"]),
            levels=tuple(_isv_level(level) for level in doc["tcbLevels"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise CollateralInvalid(f"QE identity does not parse: {exc!r}") from None


def _object(text: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(text)
    except ValueError:
        raise CollateralInvalid(f"{what} is not JSON") from None
    if not isinstance(doc, dict):
        raise CollateralInvalid(f"{what} is not a JSON object")
    return doc


def _date(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"date without a time zone: {text}")
    return value


def _status(level: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    status = level["tcbStatus"]
    if status not in TCB_STATUSES:
        raise ValueError(f"unknown TCB status {status!r}")
    advisories = level.get("advisoryIDs", [])
    if not all(isinstance(a, str) for a in advisories):
        raise ValueError("advisory ids must be strings")
    return status, tuple(advisories)


def _tcb_level(level: dict[str, Any]) -> TcbLevel:
    tcb = level["tcb"]
    if "sgxtcbcomponents" in tcb:
        sgx = tuple(int(c["svn"]) for c in tcb["sgxtcbcomponents"])
    else:  # TCB info v2 names each component
        sgx = tuple(int(tcb[f"sgxtcbcomp{i:02d}svn"]) for i in range(1, 17))
    tdx = (
        tuple(int(c["svn"]) for c in tcb["tdxtcbcomponents"]) if "tdxtcbcomponents" in tcb else None
    )
    if len(sgx) != 16 or (tdx is not None and len(tdx) != 16):
        raise ValueError("a TCB level has 16 SGX (and 16 TDX) components")
    status, advisories = _status(level)
    return TcbLevel(sgx, int(tcb["pcesvn"]), tdx, status, advisories)


def _isv_level(level: dict[str, Any]) -> IsvLevel:
    status, advisories = _status(level)
    return IsvLevel(int(level["tcb"]["isvsvn"]), status, advisories)


def _module(doc: dict[str, Any], ident: str) -> TdxModuleIdentity:
    return TdxModuleIdentity(
        id=ident,
        mr_signer=bytes.fromhex(doc["mrsigner"]),
        attributes=bytes.fromhex(doc["attributes"]),
        attributes_mask=bytes.fromhex(doc["attributesMask"]),
        levels=tuple(_isv_level(level) for level in doc.get("tcbLevels", [])),
    )
