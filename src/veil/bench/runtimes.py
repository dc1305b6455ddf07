"""`veil bench runtimes`: Python and JavaScript functions, built, cold-started and invoked.

Per language, in one run: the cold build of the example through the path
`veil build` takes, from the project directory to the signed bundle's bytes
(Python: hermetic, against an unpinned build as the baseline, and rebuilt to
check the digest reproduces; JavaScript: with its load check), the first
invocation after deploy (fresh engine: compile, attest, key release, load,
first request), warm secure invocations through the in-process enclave
(sealed request in, sealed response and signed receipt out) and through
the real gateway and worker processes (client-observed), the sandbox's
reset cost per request, and the same handler run natively (CPython
in-process; QuickJS native through the `quickjs` package) as the baseline.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

from veil.bench.harness import Metric, percentile, timings_us
from veil.client.build import build, read_project
from veil.client.build.python import python_code
from veil.client.invoke import seal
from veil.trusted.bundle import Bundle, SealedBundle, SignedBundle
from veil.trusted.crypto import recipes
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import Enclave
from veil.trusted.sandbox.engine import SandboxEngine
from veil.trusted.sandbox.loader import load_sandbox
from veil.trusted.sandbox.python_component import PythonSandbox
from veil.trusted.sandbox.quickjs import QuickJsSandbox, prelude
from veil.wiring.direct import Deployed, DirectPlatform
from veil.wiring.embedded import EmbeddedPlatform

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
REQUEST = b'{"name": "bench", "items": [1, 2, 3]}'
TENANT = "acme"
_COLD_DEADLINE_S = 240.0
"""Under the replay window's 5-minute horizon (`veil.trusted.replay`)."""
_SIGNER = SigningKey.generate()


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _veil_build(src_dir: Path) -> tuple[Bundle, float]:
    """`veil build` then `veil deploy`'s signing and sealing, timed from the project to the bytes.

    `build` is the function the CLI calls (veil.toml, then the runtime's
    builder, Python's hermetic tracer and JavaScript's load check included).
    """
    start = time.perf_counter()
    bundle = build(src_dir, TENANT)
    code_key = recipes.new_symmetric_key()
    sealed = SealedBundle.seal(SignedBundle.sign(bundle, _SIGNER), code_key).to_bytes()
    elapsed = time.perf_counter() - start
    opened = SealedBundle.from_bytes(sealed).open(
        code_key, digest=bundle.digest, signer=_SIGNER.public
    )
    assert opened == bundle
    return bundle, elapsed


def _gateway(bundles: list[Bundle], n: int) -> dict[str, dict[str, float]]:
    """Warm invocations through the real gateway and worker processes, as a client sees them.

    Each call seals the request, crosses HTTP and IPC, and verifies the
    receipt chain on return, so this includes the client's own work.
    """
    out: dict[str, dict[str, float]] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        open(os.devnull, "wb") as quiet,
        EmbeddedPlatform(Path(tmp) / "data", capture_logs=False, trust_log=quiet) as platform,
        platform.client() as client,
    ):
        for bundle in bundles:
            name = bundle.manifest.name
            platform.deploy_bundle(client, bundle)
            client.invoke(name, REQUEST, timeout_s=120)
            samples = timings_us(lambda name=name: client.invoke(name, REQUEST), n, warmup=10)
            out[bundle.manifest.runtime] = {
                "p50_ms": percentile(samples, 50) / 1000,
                "p99_ms": percentile(samples, 99) / 1000,
            }
    return out


def _first_invoke_s(
    platform: DirectPlatform, deployed: Deployed, engine: SandboxEngine
) -> tuple[Enclave, float]:
    """A new enclave's start, key release, load and first request, on `engine`."""
    start = time.perf_counter()
    enclave = platform.start_enclave(engine)
    started = time.perf_counter() - start
    # Sealed (to this enclave) outside the timings; the first with the longest deadline
    # an enclave admits, since a cold Python start on a loaded machine can outlast 30 s.
    first = seal(deployed.record, REQUEST, enclave=enclave.key_id, timeout_s=_COLD_DEADLINE_S)
    start = time.perf_counter()
    platform.provision(enclave, deployed)
    enclave.handle(first.envelope)
    return enclave, started + time.perf_counter() - start


def _secure(platform: DirectPlatform, bundle: Bundle, n: int) -> dict[str, float]:
    """First invocations on a fresh engine (nothing compiled) and on that same engine again
    (the compiled code cached, as for a stem cell of a warm worker), then warm sealed
    invocations."""
    deployed = platform.deploy(bundle)
    engine = SandboxEngine()
    _, uncached = _first_invoke_s(platform, deployed, engine)
    enclave, cached = _first_invoke_s(platform, deployed, engine)
    sealed = [seal(deployed.record, REQUEST, enclave=enclave.key_id) for _ in range(n + 20)]
    envelopes = iter([s.envelope for s in sealed])
    samples = timings_us(lambda: enclave.handle(next(envelopes)), n, warmup=20)
    return {
        "cold_ms": cached * 1000,
        "uncached_ms": uncached * 1000,
        "p50_ms": percentile(samples, 50) / 1000,
        "p99_ms": percentile(samples, 99) / 1000,
    }


def _sandbox(bundle: Bundle, n: int) -> dict[str, float]:
    """Sandbox alone: invoke (which includes the reset) and the reset by itself."""
    engine = SandboxEngine()
    sandbox = load_sandbox(engine, bundle)
    assert isinstance(sandbox, PythonSandbox | QuickJsSandbox)
    invoke = timings_us(lambda: sandbox.invoke(REQUEST), n)
    reset = timings_us(sandbox.rewind, n)
    sandbox.close()
    engine.close()
    return {"invoke_ms": percentile(invoke, 50) / 1000, "reset_ms": percentile(reset, 50) / 1000}


def _native_python(src_dir: Path, n: int) -> float:
    """p50 ms of the example's `handle` called natively, with the same Request/Response."""
    guest = Path(str(resources.files("veil.client.build").joinpath("guest")))
    saved = list(sys.path)
    sys.path[:0] = [str(guest), str(src_dir)]
    try:
        import veil_function

        spec_module = _load_module("veil_bench_app", src_dir / "app.py")
        handle = spec_module.handle

        def call() -> bytes:
            # As in the sandbox: prints go to a fresh buffer, never to the terminal.
            with contextlib.redirect_stdout(io.StringIO()):
                return veil_function.to_bytes(handle(veil_function.Request(REQUEST)))

        assert call()
        return percentile(timings_us(call, n), 50) / 1000
    finally:
        sys.path[:] = saved


def _load_module(name: str, path: Path) -> ModuleType:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_DRIVER = """
globalThis.__veil_run = (text) => {
  // the enclave's layout: 16 seed bytes, a u32 LE length of the variables (none here), input
  const input = new Uint8Array(20 + text.length);
  for (let i = 0; i < text.length; i++) input[20 + i] = text.charCodeAt(i);
  __veil_fns[0](handle, input);
};
globalThis.__veil_done = () => {
  const out = __veil_fns[1]();
  let s = String(out[0]) + ":";  // status, then body (the C bridge stops strings at NUL)
  for (let i = 5; i < out.length; i++) s += String.fromCharCode(out[i]);
  return s;
};
"""


def _native_js(source: str, n: int) -> float | None:
    """p50 ms of the handler on native QuickJS with the same prelude, or None if absent."""
    try:
        import quickjs
    except ImportError:
        return None
    ctx = quickjs.Context()
    ctx.eval("globalThis.__veil_fns = " + prelude(False, 1 << 20))
    ctx.eval(re.sub(r"\bexport\s+(default\s+)?", "", source))
    ctx.eval(_DRIVER)
    run, done = ctx.get("__veil_run"), ctx.get("__veil_done")
    text = REQUEST.decode()

    def call() -> str:
        run(text)
        while ctx.execute_pending_job():
            pass
        result: str = done()
        return result

    assert call().startswith("0:{")
    return percentile(timings_us(call, n), 50) / 1000


def run(quick: bool) -> list[Metric]:
    logging.getLogger("veil.kms").setLevel(logging.ERROR)
    n = 200 if quick else 2000
    py_src, js_src = EXAMPLES / "python-hello", EXAMPLES / "js-hello"
    py_bundle, py_build = _veil_build(py_src)
    py_rebuild, _ = _veil_build(py_src)
    _, py_build_unpinned = _timed(lambda: python_code(read_project(py_src), reproducible=False))
    js_bundle, js_build = _veil_build(js_src)
    with tempfile.TemporaryDirectory() as tmp:
        platform = DirectPlatform(Path(tmp))
        py = _secure(platform, py_bundle, n)
        js = _secure(platform, js_bundle, n * 5)
    through_gateway = _gateway([py_bundle, js_bundle], n // 4)
    py_box = _sandbox(py_bundle, n)
    js_box = _sandbox(js_bundle, n * 5)
    py_native = _native_python(py_src, n * 5)
    js_native = _native_js(js_bundle.code.decode(), n * 5)
    metrics = [
        Metric("python_warm_p50_ms", py["p50_ms"], "ms", "lower", 5.0),
        Metric("python_warm_p99_ms", py["p99_ms"], "ms", "lower"),
        Metric("python_gateway_p50_ms", through_gateway["python"]["p50_ms"], "ms", "lower"),
        Metric("python_gateway_p99_ms", through_gateway["python"]["p99_ms"], "ms", "lower"),
        Metric("python_native_p50_ms", py_native, "ms", "lower"),
        Metric("python_reset_ms", py_box["reset_ms"], "ms", "lower"),
        Metric("python_sandbox_invoke_p50_ms", py_box["invoke_ms"], "ms", "lower"),
        Metric(
            "python_warm_over_instance_call_ratio",
            py["p50_ms"] / py_box["invoke_ms"],
            "x",
            "lower",
        ),
        Metric("python_first_invoke_ms", py["cold_ms"], "ms", "lower"),
        Metric("python_first_invoke_uncached_ms", py["uncached_ms"], "ms", "lower"),
        Metric("python_build_s", py_build, "s", "lower"),
        Metric("python_build_unpinned_s", py_build_unpinned, "s", "lower"),
        Metric("python_build_pinned_ratio", py_build / py_build_unpinned, "x", "lower"),
        Metric(
            "python_rebuild_same_digest",
            float(py_rebuild.digest == py_bundle.digest),
            "bool",
            "higher",
            1.0,
        ),
        Metric("python_bundle_mib", len(py_bundle.code) / (1 << 20), "MiB", "lower"),
        Metric("js_warm_p50_ms", js["p50_ms"], "ms", "lower", 1.5),
        Metric("js_warm_p99_ms", js["p99_ms"], "ms", "lower"),
        Metric("js_gateway_p50_ms", through_gateway["js"]["p50_ms"], "ms", "lower"),
        Metric("js_gateway_p99_ms", through_gateway["js"]["p99_ms"], "ms", "lower"),
        Metric("js_reset_ms", js_box["reset_ms"], "ms", "lower"),
        Metric("js_sandbox_invoke_p50_ms", js_box["invoke_ms"], "ms", "lower"),
        Metric(
            "js_warm_over_instance_call_ratio",
            js["p50_ms"] / js_box["invoke_ms"],
            "x",
            "lower",
        ),
        Metric("js_first_invoke_ms", js["cold_ms"], "ms", "lower"),
        Metric("js_first_invoke_uncached_ms", js["uncached_ms"], "ms", "lower"),
        Metric("js_build_s", js_build, "s", "lower"),
    ]
    if js_native is not None:
        first_js = next(i for i, m in enumerate(metrics) if m.name.startswith("js_"))
        metrics.insert(first_js, Metric("js_native_p50_ms", js_native, "ms", "lower"))
    return metrics
