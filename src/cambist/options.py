"""Typed client options shared by every exchange's clients.

- ``retry=RetryPolicy(max_retries=..., backoff_base=..., backoff_max=..., max_retry_after=...)``:
  how a client retries (see the README's "Retries").
- ``rate_limits=RateLimits(share=..., on_empty=..., redis=...)``: the rate-limit governor
  (``cambist.ratelimit``; see the README's "Rate limits").
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
from cambist.ratelimit import RateLimits

__all__ = ["Clock", "RateLimits", "RetryPolicy", "SystemClock"]
