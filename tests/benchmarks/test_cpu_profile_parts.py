"""The CPU benchmark's profile table: a sample belongs to the innermost frame of ONE Bus's
code in its stack (benchmarks/cpu.py), so a library's time is charged to the step that
called it."""

from pathlib import Path

from benchmarks.cpu import profile_shares

_LOOP = "Runner.run (asyncio/runners.py:118)"


def _stack(*frames: str) -> str:
    return ";".join((_LOOP, *frames))


def test_library_time_goes_to_the_step_that_called_it(tmp_path: Path) -> None:
    profile = tmp_path / "ingest-0.txt"
    lines = [
        _stack(
            "BatchHandler._store (services/ingest/batch_handler.py:120)",
            "StoreWriter.write (services/store/mongodb/writer.py:80)",
            "AsyncCollection.insert_many (pymongo/asynchronous/collection.py:954)",
        ) + " 6",
        _stack(
            "BatchHandler._handle (services/ingest/batch_handler.py:100)",
            "decode (services/ingest/decode.py:40)",
            "BaseModel.model_validate_json (pydantic/main.py:700)",
            "EventPublish._variant (contracts/commands.py:160)",
        ) + " 3",
        _stack("Client._read_loop (nats/aio/client.py:2414)") + " 1",
        "",
    ]  # fmt: skip
    profile.write_text("\n".join(lines))

    assert profile_shares(profile) == {
        "store writer (with PyMongo, BSON)": 0.6,
        "decode and validation (with pydantic)": 0.3,
        "NATS client I/O (read loop, flusher)": 0.1,
    }


def test_an_empty_profile_has_no_shares(tmp_path: Path) -> None:
    profile = tmp_path / "query-0.txt"
    profile.write_text("")
    assert profile_shares(profile) == {}
