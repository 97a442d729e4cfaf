"""The published schema is a contract every toolchain reads alike (issue 17, section 5).

Every `pattern` in /openapi.json is compiled by four real engines: Python's `re` (what the app
and Python validators use), jsonschema-rs (the Rust validator schemathesis 4 uses; its regexes
are Rust's, no lone surrogates), and ECMA-262 through Node with and without the `u` flag
(browsers, Ajv, generated TypeScript clients). All four must accept the same texts of a corpus
of scripts, emoji, ZWJ sequences, flags, controls, invisibles and right-to-left text.

Lone surrogates are the one thing no portable pattern can refuse: Rust regexes cannot name
them, and ECMA-262 without `u` sees every astral character as two of them. The app refuses
them outside the pattern (app/api/schemas.py), as the schema's descriptions say.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any

import jsonschema_rs
import pytest

from app.main import create_app
from app.settings import Settings

OPENAPI = create_app(Settings(database_url="sqlite://")).openapi()


def _patterns(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
        return found.union(*(_patterns(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(_patterns(value) for value in node))
    return set()


PATTERNS = sorted(_patterns(OPENAPI))

_WORDS = [
    "hello",
    "Grüße aus Köln",
    "Здравствуйте",
    "Καλημέρα",
    "你好 世界",
    "こんにちは",
    "안녕하세요",
    "नमस्ते",
    "สวัสดี",
    "مرحبا بالعالم",  # RTL
    "שלום עולם",  # RTL
    "abc \u202edcba\u202c",  # an RTL override inside text
    "e\u0301",  # a combining accent
    "\U0001f40d",  # an astral emoji
    "\U0001f44d\U0001f3fd",  # with a skin-tone modifier
    "\U0001f469\u200d\U0001f4bb",  # ZWJ sequence
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
    "\U0001f1eb\U0001f1f7",  # a flag: two regional indicators
    "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # tag sequence
    "\U0001d54f\U0001d552\U0001d55d",  # mathematical letters
    "\U00020000",  # CJK extension B
    "❤\ufe0f",  # emoji presentation selector
]
_SINGLES = [
    "\x00",
    "\t",
    "\n",
    "\r",
    "\x0b",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9f",
    "\xa0",
    "\xad",
    "\u200b",
    "\u200d",
    "\u2028",
    "\u2800",
    "\u3000",
    "\u3164",
    "\ufeff",
    "\U000e0001",
    "\U000e0100",
    "\U0001d173",
    " ",
    "@",
    ".",
    "-",
    "a",
    "Z",
    "\ufffd",
]
CORPUS = sorted(
    {
        *_WORDS,
        *_SINGLES,
        *(f"a{c}b" for c in _SINGLES),
        *(f"{c}a" for c in _SINGLES),
        *(f"a{c}" for c in _SINGLES),
        *(f"{w}@example.com" for w in _WORDS),
        *(f"ada@{w}.io" for w in _WORDS),
        *(f"https://example.com/{w}" for w in _WORDS),
        "ada@example.com",
        "ada@example.com\n",
        "ada\n@example.com",
        "https://example.com/a-b_c~d?e=f#g",
        "http://x.io\n",
        "HTTPS://EXAMPLE.COM",
        "a-b",
        "a-b\n",
        "a--b",
        "\na-b",
        "0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef\n",
        "",
    }
)


def _python(pattern: str, text: str) -> bool:
    # JSON Schema patterns are not anchored: a search, as Python validators do it.
    return re.search(pattern, text) is not None


def _rust(pattern: str) -> Any:
    return jsonschema_rs.validator_for({"type": "string", "pattern": pattern})


_NODE = """
const {patterns, corpus} = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = {};
for (const flags of ['', 'u']) {
  out[flags] = patterns.map(p => {
    let re;
    try { re = new RegExp(p, flags); } catch (e) { return String(e); }
    return corpus.map(t => re.test(t));
  });
}
process.stdout.write(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def ecma() -> dict[str, list[Any]]:
    node = shutil.which("node")
    assert node is not None, "Node.js runs the ECMA-262 checks (scripts/setup.sh installs it)"
    payload = json.dumps({"patterns": PATTERNS, "corpus": CORPUS})
    done = subprocess.run(
        [node, "-e", _NODE], input=payload, capture_output=True, text=True, check=True
    )
    result: dict[str, list[Any]] = json.loads(done.stdout)
    return result


def test_the_schema_has_patterns_and_the_corpus_is_well_formed() -> None:
    assert len(PATTERNS) >= 8
    assert not any("\ud800" <= c <= "\udfff" for text in CORPUS for c in text)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_pattern_compiles_and_agrees_in_every_engine(
    pattern: str, ecma: dict[str, list[Any]]
) -> None:
    index = PATTERNS.index(pattern)
    re.compile(pattern)
    rust = _rust(pattern)  # raises when jsonschema-rs refuses the pattern
    for flags in ("", "u"):
        assert isinstance(ecma[flags][index], list), f"ECMA-262 /{flags}: {ecma[flags][index]}"
    disagreements = []
    for position, text in enumerate(CORPUS):
        answers = {
            "python re": _python(pattern, text),
            "jsonschema-rs": rust.is_valid(text),
            "ECMA-262": ecma[""][index][position],
            "ECMA-262 /u": ecma["u"][index][position],
        }
        if len(set(answers.values())) > 1:
            disagreements.append((text, answers))
    assert not disagreements, disagreements[:5]


def test_lone_surrogates_are_refused_outside_the_pattern_and_the_schema_says_so() -> None:
    from pydantic import ValidationError

    from app.api.schemas import ContactCreate, ProjectCreate

    for model, body in [
        (ProjectCreate, {"slug": "a", "title": "a\ud800"}),
        (ProjectCreate, {"slug": "a", "title": "t", "body": "\udfff"}),
        (ContactCreate, {"name": "a", "email": "a@b.io", "message": "hi \udc00"}),
        (ContactCreate, {"name": "a", "email": "a\ud83d@b.io", "message": "hi"}),
    ]:
        with pytest.raises(ValidationError) as refused:
            model.model_validate(body)
        assert [e["type"] for e in refused.value.errors()] == ["string_unicode"]
    # A well-formed pair is one astral character, not a surrogate.
    ProjectCreate.model_validate({"slug": "a", "title": "\U0001f40d"})
    for model_name, field in [("ProjectCreate", "title"), ("ContactCreate", "email")]:
        prop = OPENAPI["components"]["schemas"][model_name]["properties"][field]
        assert "Lone surrogates" in prop["description"]


# -- JSON types are strict, as the schema says -------------------------------------------------
# The schema says boolean, integer, string (date-time): a client generated from it never sends
# 1, "true" or 5.0, and one that does has a bug the API must report, not guess around.

LAX = [
    ("published", 0),
    ("published", 1),
    ("published", "true"),
    ("featured", "yes"),
    ("featured", 1),
    ("position", "5"),
    ("position", 5.0),
    ("position", True),
    ("published_at", 0),
    ("published_at", 1_700_000_000),
    ("published_at", "1700000000"),
]


def _schema_type(model: str, field: str) -> set[str]:
    prop = OPENAPI["components"]["schemas"][model]["properties"][field]
    return {option.get("type") for option in prop.get("anyOf", [prop])} - {"null"}


@pytest.mark.parametrize(("field", "value"), LAX)
def test_values_of_the_wrong_json_type_are_refused(client: Any, field: str, value: Any) -> None:
    created = client.post("/projects", {"slug": "a", "title": "t", field: value}, admin=True)
    assert created.status == 422, created.text
    assert created.json()["detail"][0]["loc"] == ["body", field]
    client.post("/projects", {"slug": "b", "title": "t"}, admin=True)
    updated = client.request("PATCH", "/projects/b", json_body={field: value}, admin=True)
    assert updated.status == 422, updated.text
    # What the schema says, the app enforces.
    expected = {"published": "boolean", "featured": "boolean", "position": "integer"}
    assert _schema_type("ProjectCreate", field) == {expected.get(field, "string")}


@pytest.mark.parametrize(
    ("field", "value"),
    [("published", True), ("position", 5), ("published_at", "2024-05-01T08:00:00Z")],
)
def test_values_of_the_right_type_are_accepted(client: Any, field: str, value: Any) -> None:
    created = client.post("/projects", {"slug": "a", "title": "t", field: value}, admin=True)
    assert created.status == 201, created.text


# -- dates at the ends of the calendar -----------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00+01:00",  # 0000-12-31 in UTC: before datetime.min
        "9999-12-31T23:59:59-01:00",  # 10000-01-01 in UTC: after datetime.max
        "0001-01-01T00:59:59+01:00",
    ],
)
def test_dates_outside_the_utc_calendar_are_a_422_not_a_500(client: Any, when: str) -> None:
    created = client.post(
        "/projects", {"slug": "a", "title": "t", "published_at": when}, admin=True
    )
    assert created.status == 422, created.text
    assert created.json()["detail"][0]["loc"] == ["body", "published_at"]
    client.post("/projects", {"slug": "b", "title": "t"}, admin=True)
    updated = client.request("PATCH", "/projects/b", json_body={"published_at": when}, admin=True)
    assert updated.status == 422, updated.text


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T01:00:00+01:00"]
)
def test_the_first_and_last_instants_in_utc_are_stored_and_returned(client: Any, when: str) -> None:
    created = client.post(
        "/projects", {"slug": "a", "title": "t", "published_at": when}, admin=True
    )
    assert created.status == 201, created.text
    got = client.get("/projects/a", admin=True).json()["published_at"]
    assert got == created.json()["published_at"]


@pytest.mark.parametrize(
    ("zone", "when"),
    [("Etc/GMT+12", "0001-01-01T00:00:00Z"), ("Etc/GMT-14", "9999-12-31T23:59:59Z")],
)
def test_extreme_dates_survive_a_database_whose_time_zone_is_not_utc(
    make_client: Any, database_url: str, clean_db: Any, zone: str, when: str
) -> None:
    # The class of the overflow: PostgreSQL hands timestamptz back in the session's time zone,
    # and in UTC-12 the first instant of year 1 is in year 0, which psycopg2 cannot parse
    # (a 500 after the insert). The session's zone is the database's default unless set.
    import urllib.parse

    options = urllib.parse.quote(f"-c timezone={zone}")
    client = make_client(database_url=f"{database_url}?options={options}")
    body = {"slug": "a", "title": "t", "published": True, "published_at": when}
    created = client.post("/projects", body, admin=True)
    assert created.status == 201, created.text
    assert client.get("/projects/a").json()["published_at"] == created.json()["published_at"]
    assert client.get("/projects").json()["items"][0]["slug"] == "a"
