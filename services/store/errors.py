"""What the store port raises: plain exceptions, whatever adapter is behind it.

An adapter translates its driver's failures into these, so the query, watch and ingest
sides handle a slow or absent store without knowing which store it is.
"""


class StoreError(Exception):
    """The store could not answer or take a write (not the caller's input)."""


class StoreUnavailableError(StoreError):
    """The store is unreachable or failed: a write batch is retried as a whole later,
    a read is answered `internal`."""


class StoreTimeoutError(StoreError):
    """The store did not answer before the deadline it was given."""
