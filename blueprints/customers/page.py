"""What other packages show on the customer page (accounts, changes, closure), registered by them at start-up.

The customer record is below the businesses that change it: they add their part of the page here,
so that customers imports none of them.
"""
from typing import Callable

_PROVIDERS: list[Callable] = []


def contributes(provider: Callable) -> Callable:
    """Register `provider(customer, user) -> dict`, merged into the customer page's context."""
    _PROVIDERS.append(provider)
    return provider


def contributions(customer, user) -> dict:
    context: dict = {}
    for provider in _PROVIDERS:
        context.update(provider(customer, user))
    return context
