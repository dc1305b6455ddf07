"""The HTTP gateway: deploy, list, invoke, enclaves, events, health, metrics."""
