"""Rate limits per API key and per IP address: a fixed-window counter in Django's cache.

ninja's own throttles keep a list of request times per client and rewrite it on every request (read, append,
write back), which is neither atomic across web processes nor cheap at a thousand requests a minute. Here a
window is one counter made with ``cache.add`` and bumped with ``cache.incr``, both atomic in Redis; it plugs
into ninja as a throttle, so ninja answers 429 with Retry-After (through the API's one error handler). A
fixed window lets a client make up to twice its limit across a window boundary, which is acceptable for a
limit meant to stop runaway scripts.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from featurepedia.settings import get_settings
from featurepedia.web.api.identity import api_key, client_ip

LIMIT_HIT = "_featurepedia_rate_limit"  # request attribute: the limit that refused it, for the error message


@dataclass(frozen=True)
class LimitHit:
    limit: int
    window: int
    who: str

    def message(self, retry_after: int) -> str:
        return (f"too many requests: the limit is {self.limit} per {self.window} seconds for {self.who}; "
                f"retry in {retry_after} seconds" + ("" if self.who.startswith("this API key") else
                                                    ", or send an API key (X-Api-Key) for a higher limit"))


class FixedWindowLimit(BaseThrottle):
    """Counts requests per key (valid keys) or per IP (everyone else) in fixed windows of the cache."""

    def __init__(self, scope: str = "api") -> None:
        self.scope = scope

    def allow_request(self, request: HttpRequest) -> bool:
        s = get_settings()
        key = api_key(request)
        if key is not None:
            bucket, limit, who = f"key:{key.pk}", s.api_rate_key, f"this API key ({key.prefix}…)"
        else:
            ip = client_ip(request)
            bucket, limit, who = f"ip:{ip}", s.api_rate_anonymous, f"your address ({ip}) without an API key"
        if limit <= 0:
            return True
        window = s.api_rate_window
        counter = f"rate:{self.scope}:{bucket}:{int(time.time() // window)}"
        cache.add(counter, 0, timeout=window + 1)
        try:
            count = cache.incr(counter)
        except ValueError:  # evicted between add and incr: this request starts the window again
            cache.set(counter, 1, timeout=window + 1)
            count = 1
        if count <= limit:
            return True
        setattr(request, LIMIT_HIT, LimitHit(limit, window, who))
        return False

    def wait(self) -> float:
        """Seconds until the current window ends (windows are aligned to the clock, so no state is needed)."""
        window = get_settings().api_rate_window
        return max(1, math.ceil(window - time.time() % window))
