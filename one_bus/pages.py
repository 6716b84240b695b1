"""Walking a keyset-paged list query page by page, or item by item."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from contracts.queries import ListQuery, Page

RequestT = TypeVar("RequestT", bound=ListQuery)
ItemT = TypeVar("ItemT")


async def iterate_pages(
    fetch: Callable[[RequestT], Awaitable[Page[ItemT]]], request: RequestT
) -> AsyncIterator[Page[ItemT]]:
    """Every page of `request`, following `nextCursor` until the last page (None)."""
    while True:
        page = await fetch(request)
        yield page
        if page.nextCursor is None:
            return
        # The cursor only means something with the same filters: keep them, move it on.
        request = request.model_copy(update={"cursor": page.nextCursor})


async def items(pages: AsyncIterator[Page[ItemT]]) -> AsyncIterator[ItemT]:
    """The items of every page, in order: `async for entity in items(client.entity_pages(...))`."""
    async for page in pages:
        for item in page.items:
            yield item
