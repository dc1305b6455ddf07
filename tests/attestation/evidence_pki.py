"""A test PKI that signs synthetic Intel DCAP quotes and AMD SNP reports.

The real samples show one verdict each; these builders show the rest (every
TCB status, revoked certificates, debug enclaves, VLEK-signed reports). The
structure mirrors the real thing — Intel: root → PCK CA → PCK leaf with SGX
extensions, root → TCB signing certificate, QE report signed by the PCK key;
AMD: ARK → ASK → VCEK, ARK → ASVK → VLEK, RSASSA-PSS/SHA-384 — but every key
is generated here, and tests pin this PKI's roots instead of Intel's or AMD's.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

NOW = datetime(2025, 6, 20, tzinfo=UTC)
"""The 'now' every synthetic case is verified at; collateral is valid around it."""

QE_MRSIGNER = bytes(range(32))
QE_ATTRIBUTES = bytes.fromhex("11000000000000000000000000000000")
FMSPC = bytes.fromhex("00906ED50000")
INTEL_VENDOR = bytes.fromhex("939a7233f79c4ca9940a0db3957f0607")


# --- DER writing (the verifier has a reader; tests need a writer) -------------------------


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def der_oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(0x06, bytes(body))


def der_int(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


SGX_OID = "1.2.840.113741.1.13.1"


def sgx_extensions(
    components: tuple[int, ...], pce_svn: int, fmspc: bytes = FMSPC, pce_id: bytes = b"\0\0"
) -> bytes:
    tcb = [seq(der_oid(f"{SGX_OID}.2.{i + 1}"), der_int(svn)) for i, svn in enumerate(components)]
    tcb.append(seq(der_oid(f"{SGX_OID}.2.17"), der_int(pce_svn)))
    tcb.append(seq(der_oid(f"{SGX_OID}.2.18"), tlv(0x04, bytes(components))))
    return seq(
        seq(der_oid(f"{SGX_OID}.1"), tlv(0x04, b"\x11" * 16)),
        seq(der_oid(f"{SGX_OID}.2"), seq(*tcb)),
        seq(der_oid(f"{SGX_OID}.3"), tlv(0x04, pce_id)),
        seq(der_oid(f"{SGX_OID}.4"), tlv(0x04, fmspc)),
        seq(der_oid(f"{SGX_OID}.5"), tlv(0x0A, b"\x00")),
    )


# --- certificates -----------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    *,
    ca: bool,
    serial: int = 0,
    extensions: tuple[tuple[str, bytes], ...] = (),
    not_before: datetime = NOW - timedelta(days=365),
    not_after: datetime = NOW + timedelta(days=365),
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    for oid, value in extensions:
        ext = x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value)
        builder = builder.add_extension(ext, critical=False)
    if isinstance(issuer_key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)
        return builder.sign(issuer_key, hashes.SHA384(), rsa_padding=pss)
    return builder.sign(issuer_key, hashes.SHA256())


def make_crl(
    issuer: x509.Certificate,
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    revoked: tuple[int, ...] = (),
    *,
    this_update: datetime = NOW - timedelta(days=1),
    next_update: datetime = NOW + timedelta(days=29),
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(next_update)
    )
    for serial in revoked:
        entry = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(NOW - timedelta(days=2))
            .build()
        )
        builder = builder.add_revoked_certificate(entry)
    if isinstance(key, rsa.RSAPrivateKey):
        return builder.sign(key, hashes.SHA384())
    return builder.sign(key, hashes.SHA256())


def pem(*certs: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def raw_sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def p256() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# --- Intel ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntelPki:
    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    pck_ca_key: ec.EllipticCurvePrivateKey
    pck_ca: x509.Certificate
    tcb_key: ec.EllipticCurvePrivateKey
    tcb_signer: x509.Certificate

    @property
    def root_der(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.DER)


@cache
def intel_pki() -> IntelPki:
    root_key, pck_ca_key, tcb_key = p256(), p256(), p256()
    root = make_cert("Test SGX Root CA", root_key, None, root_key, ca=True)
    pck_ca = make_cert("Test SGX PCK Processor CA", pck_ca_key, root, root_key, ca=True)
    tcb_signer = make_cert("Test SGX TCB Signing", tcb_key, root, root_key, ca=False)
    return IntelPki(root_key, root, pck_ca_key, pck_ca, tcb_key, tcb_signer)


SGX_COMPONENTS = (5, 5, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0)
TDX_COMPONENTS = (4, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def tcb_level(
    status: str,
    *,
    sgx: tuple[int, ...] = SGX_COMPONENTS,
    pce_svn: int = 13,
    tdx: tuple[int, ...] | None = None,
    advisories: tuple[str, ...] = (),
) -> dict[str, object]:
    tcb: dict[str, object] = {
        "sgxtcbcomponents": [{"svn": v} for v in sgx],
        "pcesvn": pce_svn,
    }
    if tdx is not None:
        tcb["tdxtcbcomponents"] = [{"svn": v} for v in tdx]
    level: dict[str, object] = {"tcb": tcb, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": status}
    if advisories:
        level["advisoryIDs"] = list(advisories)
    return level


def _bump(values: tuple[int, ...], index: int) -> tuple[int, ...]:
    return tuple(v + 1 if i == index else v for i, v in enumerate(values))


STANDARD_LEVELS = [
    # Best first, as Intel lists them; the default platform (SGX_COMPONENTS, PCE SVN 13)
    # meets only the "UpToDate" level when nothing is bumped.
    tcb_level("UpToDate", tdx=TDX_COMPONENTS),
    tcb_level("OutOfDate", sgx=(0,) * 16, pce_svn=1, tdx=(0,) * 16, advisories=("INTEL-SA-00001",)),
]


@dataclass(frozen=True)
class DcapCase:
    """Everything that varies between synthetic DCAP cases; defaults verify `UpToDate`."""

    kind: str = "sgx"  # or "tdx"
    version: int = 3  # 3 for SGX; 4 or 5 for TDX
    td15: bool = False
    pck_components: tuple[int, ...] = SGX_COMPONENTS
    pce_svn: int = 13
    tee_tcb_svn: bytes = bytes(TDX_COMPONENTS)
    tcb_levels: tuple[dict[str, object], ...] = tuple(STANDARD_LEVELS)
    qe_isv_svn: int = 8
    qe_levels: tuple[tuple[int, str, tuple[str, ...]], ...] = ((8, "UpToDate", ()),)
    qe_mrsigner: bytes = QE_MRSIGNER
    qe_prod_id: int | None = None
    qe_attributes: bytes = QE_ATTRIBUTES
    identity_mrsigner: bytes = QE_MRSIGNER
    debug: bool = False
    report_data: bytes = b"veil-test".ljust(64, b"\0")
    revoke_pck: bool = False
    revoke_pck_ca: bool = False
    collateral_issue: datetime = NOW - timedelta(days=1)
    collateral_next: datetime = NOW + timedelta(days=29)
    pck_not_after: datetime = NOW + timedelta(days=365)
    module_mrsigner: bytes = bytes(48)
    seam_attributes: bytes = bytes(8)
    extras: dict[str, object] = field(default_factory=dict)

    def but(self, **changes: object) -> DcapCase:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DcapSample:
    quote: bytes
    collateral: dict[str, str]
    pck: x509.Certificate


def _sgx_report(
    *,
    mr_enclave: bytes,
    mr_signer: bytes,
    prod_id: int,
    isv_svn: int,
    attributes: bytes,
    report_data: bytes,
) -> bytes:
    body = bytearray(384)
    body[0:16] = bytes(range(16))
    body[48:64] = attributes
    body[64:96] = mr_enclave
    body[128:160] = mr_signer
    struct.pack_into("<HH", body, 256, prod_id, isv_svn)
    body[320:384] = report_data
    return bytes(body)


def _td_report(case: DcapCase) -> bytes:
    body = bytearray(648 if case.td15 else 584)
    body[0:16] = case.tee_tcb_svn
    body[16:64] = b"\x5e" * 48  # MRSEAM
    body[64:112] = case.module_mrsigner
    body[112:120] = case.seam_attributes
    body[120:128] = (b"\x01" if case.debug else b"\x00") + bytes(7)
    body[136:184] = b"\x7d" * 48  # MRTD
    for i in range(4):
        body[328 + 48 * i : 376 + 48 * i] = bytes([0xA0 + i]) * 48
    body[520:584] = case.report_data
    if case.td15:
        body[600:648] = b"\x5d" * 48
    return bytes(body)


def build_dcap(case: DcapCase = DcapCase()) -> DcapSample:
    pki = intel_pki()
    tdx = case.kind == "tdx"
    pck_key = p256()
    pck = make_cert(
        "Test SGX PCK Certificate",
        pck_key,
        pki.pck_ca,
        pki.pck_ca_key,
        ca=False,
        extensions=((SGX_OID, sgx_extensions(case.pck_components, case.pce_svn)),),
        not_after=case.pck_not_after,
    )
    attestation_key = p256()
    att_pub = attestation_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )[1:]
    auth_data = b"\xaa" * 32
    qe_prod_id = case.qe_prod_id if case.qe_prod_id is not None else (2 if tdx else 1)
    qe_report = _sgx_report(
        mr_enclave=b"\x0e" * 32,
        mr_signer=case.qe_mrsigner,
        prod_id=qe_prod_id,
        isv_svn=case.qe_isv_svn,
        attributes=case.qe_attributes,
        report_data=hashlib.sha256(att_pub + auth_data).digest() + bytes(32),
    )
    certification = (
        qe_report
        + raw_sign(pck_key, qe_report)
        + struct.pack("<H", len(auth_data))
        + auth_data
        + struct.pack("<HI", 5, len(chain := pem(pck, pki.pck_ca, pki.root).encode()))
        + chain
    )
    header = struct.pack("<HHIHH", case.version, 2, 0x81 if tdx else 0, 8, 13)
    header += INTEL_VENDOR + bytes(20)
    if tdx:
        body = _td_report(case)
        if case.version == 5:
            body = struct.pack("<HI", 3 if case.td15 else 2, len(body)) + body
    else:
        attributes = bytes([0x05 | (0x02 if case.debug else 0)]) + bytes(15)
        body = _sgx_report(
            mr_enclave=b"\xe1" * 32,
            mr_signer=b"\x51" * 32,
            prod_id=7,
            isv_svn=3,
            attributes=attributes,
            report_data=case.report_data,
        )
    signed = header + body
    signature = raw_sign(attestation_key, signed)
    if case.version == 3:
        sig_data = signature + att_pub + certification
    else:
        sig_data = signature + att_pub + struct.pack("<HI", 6, len(certification)) + certification
    quote = signed + struct.pack("<I", len(sig_data)) + sig_data
    return DcapSample(quote, build_collateral(case), pck)


def build_collateral(case: DcapCase) -> dict[str, str]:
    pki = intel_pki()
    tdx = case.kind == "tdx"
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    tcb_info: dict[str, object] = {
        "id": "TDX" if tdx else "SGX",
        "version": 3,
        "issueDate": case.collateral_issue.strftime(stamp),
        "nextUpdate": case.collateral_next.strftime(stamp),
        "fmspc": FMSPC.hex().upper(),
        "pceId": "0000",
        "tcbType": 0,
        "tcbEvaluationDataNumber": 17,
        "tcbLevels": list(case.tcb_levels),
    }
    if tdx:
        module = {
            "mrsigner": bytes(48).hex(),
            "attributes": bytes(8).hex(),
            "attributesMask": "FF" * 8,
        }
        tcb_info["tdxModule"] = module
        tcb_info["tdxModuleIdentities"] = [
            {
                **module,
                "id": "TDX_01",
                "tcbLevels": [
                    {
                        "tcb": {"isvsvn": 4},
                        "tcbDate": "2024-03-13T00:00:00Z",
                        "tcbStatus": "UpToDate",
                    },
                    {
                        "tcb": {"isvsvn": 2},
                        "tcbDate": "2023-08-09T00:00:00Z",
                        "tcbStatus": "OutOfDate",
                    },
                ],
            }
        ]
    qe_identity = {
        "id": "TD_QE" if tdx else "QE",
        "version": 2,
        "issueDate": case.collateral_issue.strftime(stamp),
        "nextUpdate": case.collateral_next.strftime(stamp),
        "tcbEvaluationDataNumber": 17,
        "miscselect": "00000000",
        "miscselectMask": "FFFFFFFF",
        "attributes": QE_ATTRIBUTES.hex().upper(),
        "attributesMask": "FBFFFFFFFFFFFFFF0000000000000000",
        "mrsigner": case.identity_mrsigner.hex().upper(),
        "isvprodid": 2 if tdx else 1,
        "tcbLevels": [
            {"tcb": {"isvsvn": svn}, "tcbDate": "2024-03-13T00:00:00Z", "tcbStatus": status}
            | ({"advisoryIDs": list(adv)} if adv else {})
            for svn, status, adv in case.qe_levels
        ],
    }
    tcb_text = json.dumps(tcb_info, separators=(",", ":"))
    qe_text = json.dumps(qe_identity, separators=(",", ":"))
    return {
        "pck_crl_issuer_chain": pem(pki.pck_ca, pki.root),
        "root_ca_crl": make_crl(
            pki.root, pki.root_key, (pki.pck_ca.serial_number,) if case.revoke_pck_ca else ()
        )
        .public_bytes(serialization.Encoding.DER)
        .hex(),
        "pck_crl": "",  # filled by build_dcap callers that know the PCK serial; see with_pck_crl
        "tcb_info_issuer_chain": pem(pki.tcb_signer, pki.root),
        "tcb_info": tcb_text,
        "tcb_info_signature": raw_sign(pki.tcb_key, tcb_text.encode()).hex(),
        "qe_identity_issuer_chain": pem(pki.tcb_signer, pki.root),
        "qe_identity": qe_text,
        "qe_identity_signature": raw_sign(pki.tcb_key, qe_text.encode()).hex(),
    }


def dcap_sample(case: DcapCase = DcapCase()) -> DcapSample:
    """A quote and its complete collateral (PCK CRL revoking the PCK if the case says so)."""
    sample = build_dcap(case)
    pki = intel_pki()
    revoked = (sample.pck.serial_number,) if case.revoke_pck else ()
    crl = make_crl(pki.pck_ca, pki.pck_ca_key, revoked)
    collateral = dict(sample.collateral)
    collateral["pck_crl"] = crl.public_bytes(serialization.Encoding.DER).hex()
    return DcapSample(sample.quote, collateral, sample.pck)


def resign_tcb_info(collateral: dict[str, str], text: str) -> dict[str, str]:
    """Replace the TCB info with `text`, properly signed by the test TCB signer."""
    key = intel_pki().tcb_key
    return collateral | {"tcb_info": text, "tcb_info_signature": raw_sign(key, text.encode()).hex()}


def resign_qe_identity(collateral: dict[str, str], text: str) -> dict[str, str]:
    key = intel_pki().tcb_key
    return collateral | {
        "qe_identity": text,
        "qe_identity_signature": raw_sign(key, text.encode()).hex(),
    }


# --- AMD --------------------------------------------------------------------------------

AMD_OID = "1.3.6.1.4.1.3704.1"
CHIP_ID = bytes(range(64))


@dataclass(frozen=True)
class AmdPki:
    ark_key: rsa.RSAPrivateKey
    ark: x509.Certificate
    ask_key: rsa.RSAPrivateKey
    ask: x509.Certificate
    asvk_key: rsa.RSAPrivateKey
    asvk: x509.Certificate

    def pem(self, cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)


@cache
def amd_pki() -> AmdPki:
    ark_key, ask_key, asvk_key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(3)
    )
    ark = make_cert("ARK-Test", ark_key, None, ark_key, ca=True)
    ask = make_cert("SEV-Test", ask_key, ark, ark_key, ca=True)
    asvk = make_cert("SEV-VLEK-Test", asvk_key, ark, ark_key, ca=True)
    return AmdPki(ark_key, ark, ask_key, ask, asvk_key, asvk)


def amd_key_extensions(
    tcb: tuple[int, int, int, int], *, hw_id: bytes | None, csp_id: str | None = None
) -> tuple[tuple[str, bytes], ...]:
    bl, tee, snp, ucode = tcb
    exts = [
        (f"{AMD_OID}.1", der_int(1)),
        (f"{AMD_OID}.2", tlv(0x16, b"Milan-B0")),
        (f"{AMD_OID}.3.1", der_int(bl)),
        (f"{AMD_OID}.3.2", der_int(tee)),
        (f"{AMD_OID}.3.3", der_int(snp)),
        (f"{AMD_OID}.3.8", der_int(ucode)),
    ]
    if hw_id is not None:
        exts.append((f"{AMD_OID}.4", hw_id))
    if csp_id is not None:
        exts.append((f"{AMD_OID}.5", tlv(0x16, csp_id.encode())))
    return tuple(exts)


@dataclass(frozen=True)
class SnpCase:
    vlek: bool = False
    tcb: tuple[int, int, int, int] = (3, 0, 8, 115)  # bootloader, TEE, SNP, microcode
    cert_tcb: tuple[int, int, int, int] | None = None  # what the VCEK certifies (default: tcb)
    chip_id: bytes = CHIP_ID
    cert_chip_id: bytes = CHIP_ID
    debug: bool = False
    report_data: bytes = b"snp-test".ljust(64, b"\0")
    version: int = 2
    key_not_after: datetime = NOW + timedelta(days=365)

    def but(self, **changes: object) -> SnpCase:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class SnpSample:
    report: bytes
    key_der: bytes  # the VCEK or VLEK certificate


def snp_sample(case: SnpCase = SnpCase()) -> SnpSample:
    pki = amd_pki()
    key = ec.generate_private_key(ec.SECP384R1())
    cert_tcb = case.cert_tcb or case.tcb
    issuer, issuer_key = (pki.asvk, pki.asvk_key) if case.vlek else (pki.ask, pki.ask_key)
    exts = amd_key_extensions(
        cert_tcb,
        hw_id=None if case.vlek else case.cert_chip_id,
        csp_id="veil-test-csp" if case.vlek else None,
    )
    cert = make_cert(
        "SEV-VLEK" if case.vlek else "SEV-VCEK",
        key,
        issuer,
        issuer_key,
        ca=False,
        extensions=exts,
        not_after=case.key_not_after,
    )
    report = bytearray(0x4A0)
    policy = 0x30000 | (1 << 19 if case.debug else 0)
    struct.pack_into("<IIQ", report, 0, case.version, 1, policy)
    struct.pack_into("<II", report, 0x30, 0, 1)
    bl, tee, snp, ucode = case.tcb
    tcb_raw = bytes([bl, tee, 0, 0, 0, 0, snp, ucode])
    report[0x38:0x40] = tcb_raw
    struct.pack_into("<I", report, 0x48, (1 << 2) if case.vlek else 0)
    report[0x50:0x90] = case.report_data
    report[0x90:0xC0] = b"\x3a" * 48
    report[0xC0:0xE0] = b"\x4d" * 32
    report[0x180:0x188] = tcb_raw
    report[0x1A0:0x1E0] = case.chip_id
    report[0x1E0:0x1E8] = tcb_raw
    report[0x1F0:0x1F8] = tcb_raw
    r, s = decode_dss_signature(key.sign(bytes(report[:0x2A0]), ec.ECDSA(hashes.SHA384())))
    report[0x2A0:0x2E8] = r.to_bytes(72, "little")
    report[0x2E8:0x330] = s.to_bytes(72, "little")
    return SnpSample(bytes(report), cert.public_bytes(serialization.Encoding.DER))
