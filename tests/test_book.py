"""ddpm_ot_lib.book: the helpers every chapter shares."""

import json

import pytest

from ddpm_ot_lib import book, paper


@pytest.mark.parametrize(
    "value, kwargs, expected",
    [
        (0.0123456, {}, "0.0123"),
        (0.0123456, {"digits": 2}, "0.012"),
        (3e-17, {"floor": 1e-12}, "< 1e-12"),
        (-3e-17, {"floor": 1e-12}, "< 1e-12"),
        (3e-17, {"digits": 2, "floor": 1e-12, "zero": "0"}, "0"),
        (2e-12, {"floor": 1e-12}, "2e-12"),
    ],
)
def test_fmt(value, kwargs, expected):
    assert book.fmt(value, **kwargs) == expected


@pytest.mark.parametrize("value, expected", [(3.2e-9, "< 1e-8"), (0.0, "0"), (-0.05, "< 1e-1"), (0.5, "< 1e0")])
def test_bound(value, expected):
    assert book.bound(value) == expected


@pytest.mark.parametrize(
    "call, error, pattern",
    [
        (lambda: book.fmt("x"), TypeError, r"^value must be a real number"),
        (lambda: book.fmt(float("nan")), ValueError, r"^value must be finite"),
        (lambda: book.fmt(1.0, digits=0), ValueError, r"^digits must be an integer >= 1"),
        (lambda: book.fmt(1.0, floor=-1.0), ValueError, r"^floor"),
        (lambda: book.bound(float("inf")), ValueError, r"^value must be finite"),
        (lambda: book.glue("two words", 1.0), ValueError, r"^name must be an identifier"),
        (lambda: book.style(0), ValueError, r"^font_size"),
    ],
)
def test_bad_input(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


def test_data_dir(tmp_path):
    (tmp_path / "book" / "data").mkdir(parents=True)
    assert book.data_dir(tmp_path) == tmp_path / "book" / "data"
    assert book.data_dir(tmp_path / "book") == tmp_path / "book" / "data"
    with pytest.raises(FileNotFoundError, match=r"no book data folder"):
        book.data_dir(tmp_path / "book" / "data")


def test_glue_stores_the_formatted_string(monkeypatch):
    stored = {}
    monkeypatch.setattr("myst_nb.glue", lambda name, value, display: stored.update({name: (value, display)}))
    assert book.glue("w2", 0.123456, ".3f") is None  # a cell ending on it shows nothing
    book.glue("share", 0.5, "{:.1%}")
    assert stored == {"w2": ("0.123", False), "share": ("50.0%", False)}


def test_paper_quotes_name_their_source():
    quotes = paper.quotes()
    assert "TABLE1_MAX_EPS_REL[2]" in quotes and quotes["TABLE1_MAX_EPS_REL[2]"].value == 5.7e-15
    for name, q in quotes.items():
        assert q.source.strip(), name
        json.dumps(q.value)  # plain values: a chapter can glue or print them
