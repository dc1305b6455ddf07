"""`veil evidence verify`: check one piece of TEE evidence offline, print verdict and claims.

The tool an operator reaches for when attestation fails: it runs exactly
the verifier the KMS runs, with pinned roots and collateral from files, and
prints the refusal's class name (the check that failed) and message.
Exit 0 verified, 1 refused, 2 usage error.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from veil.attestation.detect import detect_tee, evidence_bytes
from veil.attestation.errors import EvidenceRefused
from veil.attestation.verifier import Verifier

evidence_app = typer.Typer(
    help="Verify real TEE evidence (SGX, TDX, SEV-SNP) offline.", no_args_is_help=True
)


def _parse_now(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        now = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"not an ISO-8601 time: {text}", param_hint="--now") from None
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _need(path: Path | None, option: str, tee: str) -> bytes:
    if path is None:
        raise typer.BadParameter(f"{tee} evidence needs {option}", param_hint=option)
    return path.read_bytes()


def _verifier(
    tee: str,
    *,
    collateral: Path | None,
    root: Path | None,
    vcek: Path | None,
    ark: Path | None,
    ask: Path | None,
    vlek: Path | None,
    asvk: Path | None,
) -> Verifier:
    if tee in ("sgx", "tdx"):
        from veil.attestation.dcap.collateral import load_collateral

        root_der = _need(root, "--root", tee)
        if collateral is None:
            raise typer.BadParameter(
                f"{tee} evidence needs --collateral", param_hint="--collateral"
            )
        loaded = load_collateral(collateral)
        if tee == "sgx":
            from veil.attestation.sgx import SgxVerifier

            return SgxVerifier(root_der=root_der, collateral=loaded)
        from veil.attestation.tdx import TdxVerifier

        return TdxVerifier(root_der=root_der, collateral=loaded)
    from veil.attestation.snp import SnpVerifier

    if vcek is None and vlek is None:
        raise typer.BadParameter("SNP evidence needs --vcek (or --vlek)", param_hint="--vcek")
    return SnpVerifier(
        ark_pem=_need(ark, "--ark", tee),
        ask_pem=ask.read_bytes() if ask else None,
        vcek_der=vcek.read_bytes() if vcek else None,
        asvk_pem=asvk.read_bytes() if asvk else None,
        vlek_der=vlek.read_bytes() if vlek else None,
    )


@evidence_app.command("verify")
def verify(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="quote or report")],
    tee_type: Annotated[
        str, typer.Option("--type", help="auto, sgx, tdx or snp", case_sensitive=False)
    ] = "auto",
    collateral: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="SGX/TDX collateral JSON")
    ] = None,
    root: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="Intel SGX Root CA (DER/PEM)")
    ] = None,
    vcek: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="SNP VCEK (DER/PEM)")
    ] = None,
    ark: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="AMD root key, ARK (PEM)")
    ] = None,
    ask: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="AMD signing key, ASK (PEM)")
    ] = None,
    vlek: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="SNP VLEK instead of a VCEK")
    ] = None,
    asvk: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="AMD VLEK signing key, ASVK")
    ] = None,
    now: Annotated[
        str | None, typer.Option(help="verify as of this ISO-8601 time (default: now)")
    ] = None,
) -> None:
    """Verify FILE and print the verdict and claims as JSON (exit 0 verified, 1 refused)."""
    when = _parse_now(now)
    evidence = evidence_bytes(file.read_bytes())
    tee = tee_type.lower()
    if tee not in ("auto", "sgx", "tdx", "snp"):
        raise typer.BadParameter("one of auto, sgx, tdx, snp", param_hint="--type")
    try:
        if tee == "auto":
            tee = detect_tee(evidence)
        verifier = _verifier(
            tee, collateral=collateral, root=root, vcek=vcek, ark=ark, ask=ask, vlek=vlek, asvk=asvk
        )
        claims = verifier.verify(evidence, now=when)
    except EvidenceRefused as exc:
        result = {
            "verdict": "refused",
            "type": tee,
            "now": when.isoformat(),
            "error": type(exc).__name__,
            "reason": str(exc),
        }
        typer.echo(json.dumps(result, indent=2))
        raise typer.Exit(1) from None
    typer.echo(
        json.dumps(
            {
                "verdict": "verified",
                "type": tee,
                "now": when.isoformat(),
                "claims": claims.to_json(),
            },
            indent=2,
        )
    )
