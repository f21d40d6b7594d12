"""Types for code that calls cambist: what the generated signatures accept."""

from __future__ import annotations

from decimal import Decimal
from typing import TypeAlias

DecimalLike: TypeAlias = Decimal | int | str
"""What a decimal parameter accepts: a ``Decimal``, an ``int`` or a numeric ``str``, each sent
exactly. A ``float`` is refused (``0.1`` is not 0.1): pass ``Decimal("0.1")`` or ``"0.1"``."""

__all__ = ["DecimalLike"]
