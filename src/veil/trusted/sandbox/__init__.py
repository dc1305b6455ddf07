"""Wasm sandboxes inside the enclave: limits, snapshot and rewind.

Every runtime (raw Wasm reactor, WASI command, Python component, QuickJS)
implements `api.Sandbox`: invoke with bytes in, `Output` out, and afterwards
the instance is back at its post-init snapshot, so no byte of one request is
visible to the next. `loader.load_sandbox` picks the runtime from the manifest.
"""
