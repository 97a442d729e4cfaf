"""Validation rules of the request bodies: slugs, tags, URLs, emails."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.api.schemas import ContactCreate, ProjectCreate, ProjectUpdate


@pytest.mark.parametrize("slug", ["a", "hello-world", "v2", "a-1-b", "x" * 80])
def test_good_slugs(slug: str) -> None:
    assert ProjectCreate(slug=slug, title="t").slug == slug


@pytest.mark.parametrize(
    "slug", ["", "A", "hello_world", "-a", "a-", "a--b", "a b", "é", "a/b", "x" * 81, "a.b"]
)
def test_bad_slugs(slug: str) -> None:
    with pytest.raises(ValidationError, match="slug"):
        ProjectCreate(slug=slug, title="t")


def test_tags_are_deduplicated_in_order() -> None:
    assert ProjectCreate(slug="a", title="t", tags=["b", "a", "b"]).tags == ["b", "a"]


@pytest.mark.parametrize("url", ["https://example.com", "http://localhost:8000/x?y=1#z"])
def test_http_urls_are_accepted(url: str) -> None:
    assert ProjectCreate(slug="a", title="t", url=url).url == url


@pytest.mark.parametrize(
    "url",
    [
        "example.com",
        "ftp://example.com",
        "https://",
        "https:// x",
        "javascript:alert(1)",
        "https://" + "a" * 2050,
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="url"):
        ProjectCreate(slug="a", title="t", url=url)


def test_update_knows_which_fields_were_sent() -> None:
    assert ProjectUpdate(title="x").model_dump(exclude_unset=True) == {"title": "x"}


def test_contact_fields_are_kept_as_sent_but_never_blank() -> None:
    # No silent stripping: the published schema and the app must agree on every input.
    message = ContactCreate(name=" Ada ", email="ada@example.com", message=" hi ")
    assert message.model_dump(exclude={"website"}) == {
        "name": " Ada ",
        "email": "ada@example.com",
        "message": " hi ",
    }
    for blank in ("", " ", "\t\n"):
        with pytest.raises(ValidationError, match="name"):
            ContactCreate(name=blank, email="ada@example.com", message="m")


@pytest.mark.parametrize("field", ["name", "message", "email"])
def test_nul_is_refused_everywhere(field: str) -> None:
    values = {"name": "a", "email": "a@example.com", "message": "m"}
    with pytest.raises(ValidationError, match=field):
        ContactCreate(**{**values, field: values[field] + "\x00"})


@pytest.mark.parametrize(
    "email",
    [
        " ada@example.com",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a da@x.io",
        "ada@@example.com",
        "ada@example.",
    ],
)
def test_bad_emails(email: str) -> None:
    with pytest.raises(ValidationError, match="email"):
        ContactCreate(name="a", email=email, message="m")
