"""Telling a bad document from a store that is briefly unavailable.

Only a write error about one document (it can never be stored as it is) is permanent;
anything else (no server, a stepped-down primary, an unmet write concern) is transient
and must be retried, never dead-lettered as if the input were bad.
"""

from typing import Final

from pymongo.errors import BulkWriteError

from services.store.errors import StoreUnavailableError

DUPLICATE_KEY: Final = 11000

# Per-document write errors that still mean "try again later".
_TRANSIENT_CODES: Final = frozenset(
    {6, 7, 50, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436}
)


def bulk_write_errors(error: BulkWriteError) -> tuple[set[int], dict[int, str]]:
    """Sort a failed bulk write into (duplicate-key op indexes, permanent failures by index).

    Raises StoreUnavailableError if the write concern was not met or any error is transient.
    """
    if error.details.get("writeConcernErrors"):
        raise StoreUnavailableError(str(error.details["writeConcernErrors"])) from error
    collided: set[int] = set()
    failed: dict[int, str] = {}
    for problem in error.details.get("writeErrors", []):
        code = problem.get("code")
        if code == DUPLICATE_KEY:
            collided.add(problem["index"])
        elif code in _TRANSIENT_CODES:
            raise StoreUnavailableError(f"write error {code}: {problem.get('errmsg')}")
        else:
            failed[problem["index"]] = (
                f"store refused the document ({code}): {problem.get('errmsg')}"
            )
    return collided, failed
