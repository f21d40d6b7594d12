"""Typed client options shared by every exchange's clients.

- ``retry=RetryPolicy(max_retries=..., backoff_base=..., backoff_max=..., max_retry_after=...)``:
  how a client retries (see the README's "Retries").
- ``clock=``: any :class:`Clock` (``time()``, ``monotonic()``, ``sleep()``, ``asleep()``);
  :class:`SystemClock` by default, ``cambist.testing.FakeClock`` in tests (waits pass at once).

```python
from cambist.options import RetryPolicy
from cambist.hashkey import HashKey

hk = HashKey(retry=RetryPolicy(max_retries=5, max_retry_after=30.0), timeout=20.0)
```
"""

from __future__ import annotations

from cambist._runtime.clock import Clock, SystemClock
from cambist._runtime.retry import RetryPolicy

__all__ = ["Clock", "RetryPolicy", "SystemClock"]
