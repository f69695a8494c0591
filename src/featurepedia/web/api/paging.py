"""``limit`` / ``offset`` paging for our own list routes.

Not ninja's ``@paginate``: it serialises a page item by item, and our pages add per-page data in one query
(a page of features gets its best explanations together), so a route builds its items and this wraps them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from django.db.models import QuerySet
from ninja import Field, Schema

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 1_000_000_000  # far past any list here; keeps the number inside every database's OFFSET type

T = TypeVar("T")
R = TypeVar("R")


class Paging(Schema):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description=f"items per page, 1 to {MAX_LIMIT}")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="items to skip")


class Page(Schema, Generic[T]):
    items: list[T]
    count: int = Field(description="items in the whole list")
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last page")


def page(rows: QuerySet | Sequence, paging: Paging,
         build: Callable[[list], Sequence[R]] = list) -> dict[str, object]:
    """One page of ``rows``: its items (made by ``build`` from the page's rows) and where the next starts."""
    count = rows.count() if isinstance(rows, QuerySet) else len(rows)
    chosen = list(rows[paging.offset:paging.offset + paging.limit])
    end = paging.offset + len(chosen)
    return {"items": build(chosen), "count": count, "limit": paging.limit, "offset": paging.offset,
            "next_offset": end if end < count else None}
