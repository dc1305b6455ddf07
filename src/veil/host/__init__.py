"""Untrusted host side: gateway, dispatcher, workers, storage, transports."""
