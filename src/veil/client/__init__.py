"""Tenant and client SDK: keys, bundles, sealed invocations, receipt verification."""
