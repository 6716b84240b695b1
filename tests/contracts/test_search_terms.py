"""The words of a name: folded the same way when stored and when searched."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.search_terms import MAX_NAME_TERMS, MAX_TERM_LENGTH, search_terms


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("Ada Lovelace", ["ada", "lovelace"]),
        ("ADA lovelace Ada", ["ada", "lovelace"]),
        ("Ada-Lovelace_2.0", ["ada", "lovelace", "2", "0"]),
        ("Café Crème", ["cafe", "creme"]),
        ("Ｃａｆé", ["cafe"]),
        ("Straße", ["strasse"]),
        ("ﬁle №5", ["file", "no5"]),
        ("İstanbul", ["istanbul"]),
        ("Ünïcödé", ["unicode"]),
        ("東京タワー", ["東京タワー"]),
        ("emoji 😀 ok", ["emoji", "ok"]),
        ("", []),
        ("  --- !!! ", []),
        ('{"$regex": ".*"}', ["regex"]),
    ],
)
def test_names_fold_to_lower_case_unaccented_words(text: str, terms: list[str]) -> None:
    assert search_terms(text) == terms


def test_long_words_are_cut_and_many_words_capped() -> None:
    assert search_terms("x" * 100) == ["x" * MAX_TERM_LENGTH]
    many = " ".join(f"w{n}" for n in range(100))
    assert search_terms(many) == [f"w{n}" for n in range(MAX_NAME_TERMS)]
    assert search_terms(many, max_terms=3) == ["w0", "w1", "w2"]


@given(st.text(max_size=300))
def test_terms_are_distinct_bounded_words_of_letters_and_digits(text: str) -> None:
    terms = search_terms(text)
    assert len(terms) == len(set(terms)) <= MAX_NAME_TERMS
    for term in terms:
        assert 1 <= len(term) <= MAX_TERM_LENGTH
        assert all(char.isalnum() for char in term)


@given(st.text(max_size=300))
def test_folding_is_idempotent(text: str) -> None:
    # A search for the stored words finds exactly those words.
    terms = search_terms(text)
    assert search_terms(" ".join(terms)) == terms
