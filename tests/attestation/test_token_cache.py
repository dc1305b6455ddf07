"""TokenCache: a client's verified attestation results, reused without weakening any check."""

from __future__ import annotations

import time

import pytest

from tests.attestation.test_sim_and_service import HOST, KMS, attest, service
from veil.attestation.errors import TokenInvalid
from veil.attestation.result import TokenCache
from veil.trusted.attest.sim import SimAttester
from veil.trusted.crypto.signing import SigningKey
from veil.trusted.enclave import Enclave


def token_and_key() -> tuple[str, SigningKey]:
    svc = service()
    return attest(svc, SimAttester(HOST), Enclave(KMS.public)), svc.key


def test_a_cached_token_gives_the_same_result_as_verifying_it() -> None:
    token, key = token_and_key()
    cache = TokenCache()
    first = cache.verify(token, [key.public], now=time.time())
    assert cache.verify(token, [key.public], now=time.time()) is first


def test_a_cached_token_still_expires() -> None:
    token, key = token_and_key()
    cache = TokenCache()
    cache.verify(token, [key.public], now=time.time())
    with pytest.raises(TokenInvalid, match="expired"):
        cache.verify(token, [key.public], now=time.time() + 7200)


def test_a_token_verified_under_one_key_is_not_trusted_under_another() -> None:
    token, key = token_and_key()
    cache = TokenCache()
    cache.verify(token, [key.public], now=time.time())
    with pytest.raises(TokenInvalid, match="unknown"):
        cache.verify(token, [SigningKey.generate().public], now=time.time())


def test_a_refused_token_is_not_remembered() -> None:
    token, key = token_and_key()
    cache = TokenCache()
    forged = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    for _ in range(2):
        with pytest.raises(TokenInvalid):
            cache.verify(forged, [key.public], now=time.time())


def test_the_cache_holds_at_most_its_size() -> None:
    cache = TokenCache(size=2)
    tokens = [token_and_key() for _ in range(3)]
    for token, key in tokens:
        cache.verify(token, [key.public], now=time.time())
    assert len(cache._verified) == 2
