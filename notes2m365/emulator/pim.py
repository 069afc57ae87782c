"""(being written)"""

from __future__ import annotations

from .router import Router


def register(router: Router) -> None:
    pass
