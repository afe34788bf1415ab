"""A Zendesk app key pair for the tests, made once per test session (never committed).

Zendesk signs the sidebar's signed-URL token with the app's private key; the service holds
only the public key (ZENDESK_APP_PUBLIC_KEY).
"""
from __future__ import annotations

import functools

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@functools.cache
def zendesk_app_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def zendesk_app_public_pem() -> str:
    return zendesk_app_private_key().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
