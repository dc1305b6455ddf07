"""`veil bench core`: the trusted core, in process, enclave side.

Baselines (plain wasmtime with no Veil) are measured in the same run.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import wasmtime

from veil.attestation.result import TokenCache
from veil.bench.harness import Metric, percentile, timings_us
from veil.client.invoke import open_response, seal
from veil.client.records import RecordBook
from veil.samples import wasm
from veil.trusted.bundle import Bundle, Manifest
from veil.trusted.crypto import hazmat, recipes
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.reactor import ReactorSandbox
from veil.wiring.direct import DirectPlatform


def _plain_wasmtime(code: bytes, data: bytes) -> tuple[float, float]:
    """(p50, p99) µs of the function called with wasmtime-py's ordinary API, no Veil."""
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, wasmtime.Module(engine, code), [])
    exports = instance.exports(store)
    memory, alloc, invoke = exports["memory"], exports["veil_alloc"], exports["veil_invoke"]
    heap = exports.get("__heap_reset")
    assert isinstance(memory, wasmtime.Memory)
    assert isinstance(alloc, wasmtime.Func) and isinstance(invoke, wasmtime.Func)
    base = alloc(store, 0)

    def call() -> bytes:
        ptr = base  # reuse one buffer: the baseline does no allocation bookkeeping
        memory.write(store, data, ptr)
        packed = invoke(store, ptr, len(data))
        start = (packed >> 32) & 0xFFFFFFFF
        return bytes(memory.read(store, start, start + (packed & 0xFFFFFFFF)))

    del heap
    if len(data) + base > memory.data_len(store):
        memory.grow(store, (len(data) + base - memory.data_len(store)) // 65536 + 1)
    samples = timings_us(call, 2000)
    return percentile(samples, 50), percentile(samples, 99)


def _invoke_samples(platform: DirectPlatform, name: str, data: bytes, n: int) -> list[float]:
    deployed = platform.deploy(Bundle(Manifest(f"acme/{name}", "1"), wasm(name)))
    enclave = platform.start_enclave()
    platform.provision(enclave, deployed)
    sealed = [seal(deployed.record, data, enclave=enclave.key_id) for _ in range(n + 50)]
    envelopes = iter([s.envelope for s in sealed])
    return timings_us(lambda: enclave.handle(next(envelopes)), n, warmup=50)


def _client_side(platform: DirectPlatform, data: bytes, n: int) -> tuple[float, float]:
    """What a client pays beside the enclave's work: checking one response (attestation
    result, already verified once, receipt, sealed result), and a new session's first
    request end to end (the record checked from its KMS-signed bytes, sealed, served, and
    its response checked with the enclave's attestation result verified afresh)."""
    deployed = platform.deploy(Bundle(Manifest("acme/client", "1"), wasm("echo")))
    enclave = platform.start_enclave()
    platform.provision(enclave, deployed)
    trust = platform.trust
    served = []
    for _ in range(n + 20):
        request = seal(deployed.record, data, enclave=enclave.key_id)
        served.append((request, enclave.handle(request.envelope)))
    responses = iter(served)
    verify = timings_us(lambda: open_response(*next(responses), trust), n, warmup=20)

    def first_of_session() -> None:
        record = RecordBook(trust.kms_key).accept(deployed.record_bytes, "acme/client")
        request = seal(record, data, enclave=enclave.key_id)
        open_response(request, enclave.handle(request.envelope), trust, TokenCache())

    first = timings_us(first_of_session, n // 4, warmup=10)
    return percentile(verify, 50), percentile(first, 50)


def _cold_start_us(platform: DirectPlatform, n: int) -> float:
    deployed = platform.deploy(Bundle(Manifest("acme/cold", "1"), wasm("echo")))
    samples = []
    for _ in range(n):
        start = time.perf_counter_ns()
        enclave = platform.start_enclave(SandboxEngine())
        platform.provision(enclave, deployed)
        samples.append((time.perf_counter_ns() - start) / 1000)
    return percentile(samples, 50)


def _hpke_us(suite: hazmat.Suite, n: int) -> float:
    key = hazmat.HpkePrivateKey.generate(suite)
    data = b"x" * 1024
    return percentile(
        timings_us(
            lambda: recipes.open_request(
                key, recipes.seal_request(suite, key.public_bytes, data, b"i"), b"i"
            ),
            n,
        ),
        50,
    )


def run(quick: bool) -> list[Metric]:
    logging.getLogger("veil.kms").setLevel(logging.ERROR)
    n = 1000 if quick else 10000
    with tempfile.TemporaryDirectory() as tmp:
        platform = DirectPlatform(Path(tmp))
        echo = _invoke_samples(platform, "echo", b"x" * 1024, n)
        sha = _invoke_samples(platform, "sha256", b"x" * 65536, n // 10)
        plain_echo = _plain_wasmtime(wasm("echo"), b"x" * 1024)
        plain_sha = _plain_wasmtime(wasm("sha256"), b"x" * 65536)
        engine = SandboxEngine()
        sandbox = ReactorSandbox(engine, Bundle(Manifest("acme/echo", "1"), wasm("echo")))
        rewind = percentile(timings_us(sandbox.rewind, n), 50)
        fresh = percentile(timings_us(sandbox._fresh_instance, n // 10), 50)
        cold = _cold_start_us(platform, 5 if quick else 30)
        receipt_verify, first_of_session = _client_side(platform, b"x" * 1024, n // 10)
    echo_p50 = percentile(echo, 50)
    return [
        Metric("invoke_echo_1k_p50_us", echo_p50, "us", "lower", 150.0),
        Metric("invoke_echo_1k_p99_us", percentile(echo, 99), "us", "lower"),
        Metric("invoke_echo_1k_first_of_session_us", first_of_session, "us", "lower"),
        Metric("plain_wasmtime_echo_1k_p50_us", plain_echo[0], "us", "lower"),
        Metric("secure_over_plain_echo_ratio", echo_p50 / plain_echo[0], "x", "lower"),
        Metric("invoke_sha256_64k_p50_us", percentile(sha, 50), "us", "lower"),
        Metric("plain_wasmtime_sha256_64k_p50_us", plain_sha[0], "us", "lower"),
        Metric("secure_over_plain_sha256_ratio", percentile(sha, 50) / plain_sha[0], "x", "lower"),
        Metric("rewind_us", rewind, "us", "lower", 20.0),
        Metric("fresh_instance_us", fresh, "us", "lower"),
        Metric("cold_start_ms", cold / 1000, "ms", "lower"),
        Metric("cold_over_rewind_ratio", cold / rewind, "x", "higher", 1000.0),
        Metric("hpke_x25519_seal_open_us", _hpke_us(hazmat.Suite.X25519, n // 2), "us", "lower"),
        Metric(
            "hpke_pq_hybrid_seal_open_us", _hpke_us(hazmat.Suite.PQ_HYBRID, n // 2), "us", "lower"
        ),
        Metric("receipt_verify_us", receipt_verify, "us", "lower"),
    ]
