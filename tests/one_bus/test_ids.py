import uuid

from one_bus.ids import UUID7Generator, new_id, uuid7_time_ms


def test_a_uuid7_has_version_7_the_rfc_variant_and_its_millisecond() -> None:
    value = UUID7Generator(lambda: 1_763_900_000_000)()
    assert (value.version, value.variant) == (7, uuid.RFC_4122)
    assert uuid7_time_ms(value) == 1_763_900_000_000


def test_ids_made_in_one_millisecond_still_sort_in_the_order_they_were_made() -> None:
    make = UUID7Generator(lambda: 1_763_900_000_000)
    made = [make() for _ in range(5000)]  # more than the 4096 a millisecond counts
    assert made == sorted(made)
    assert len(set(made)) == len(made)


def test_a_clock_stepping_back_does_not_make_ids_go_back() -> None:
    times = iter([2_000, 1_000])
    make = UUID7Generator(lambda: next(times))
    first, second = make(), make()
    assert first < second


def test_a_new_id_is_a_valid_record_id_in_canonical_form() -> None:
    text = new_id()
    assert str(uuid.UUID(text)) == text
