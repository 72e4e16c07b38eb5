"""Pagination shared by the list endpoints: `page` (from 1), `page_size`, totals."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

MAX_PAGE_SIZE = 500

T = TypeVar("T")

PageNumber = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]
PageSize = Annotated[
    int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page (at most {MAX_PAGE_SIZE}).")
]


class Page(BaseModel, Generic[T]):
    """One page of a list, with the totals of the whole list."""

    items: list[T]
    page: int
    page_size: int
    total_items: int
    total_pages: int


def page_fields(items: list[Any], page: int, page_size: int, total: int) -> dict[str, Any]:
    """A page of `items` (already cut) out of `total`, as the fields of a `Page`."""
    return {
        "items": items,
        "page": page,
        "page_size": page_size,
        "total_items": total,
        "total_pages": (total + page_size - 1) // page_size,
    }


def page_of(items: list[T], page: int, page_size: int, total: int) -> Page[T]:
    """A page of `items` (already cut) out of `total`."""
    return Page[T](
        items=items,
        page=page,
        page_size=page_size,
        total_items=total,
        total_pages=(total + page_size - 1) // page_size,
    )
