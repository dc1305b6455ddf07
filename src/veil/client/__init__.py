"""The tenant's side: build, sign and deploy bundles, invoke functions, check receipts."""
