"""Broken feed files, MIND files and demo documents given to the import and evaluation
commands. Both importers take what they can: a document that is not a feed (or not a MIND
news.tsv) at all is refused whole with nothing written; in a readable one, each broken entry
is refused by name and every article written is complete. Evaluation never writes."""

import json
import re
from io import StringIO
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from django.core.management import CommandError, call_command
from hypothesis import example, given
from hypothesis import strategies as st

from news.ingest import feed_parse, mind_parse
from news.models import Article

from .strategies import JUNK_TEXT, changed_tables, database_snapshot, fuzz_settings

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
RSS = (FIXTURES / "feeds" / "rss.xml").read_bytes()
ATOM = (FIXTURES / "feeds" / "atom.xml").read_bytes()
MIND_NEWS = (FIXTURES / "mind_tiny" / "news.tsv").read_bytes()
MIND_BEHAVIORS = (FIXTURES / "mind_tiny" / "behaviors.tsv").read_bytes()
SUMMARY = re.compile(r"created (\d+), updated (\d+), skipped (\d+), errors (\d+)")
ENCODINGS = ["utf-8", "utf-16", "latin-1", "cp1252", "utf-32"]


def run(name: str, *argv) -> tuple[str, str, CommandError | None]:
    out, err = StringIO(), StringIO()
    try:
        call_command(name, *argv, stdout=out, stderr=err)
    except CommandError as error:
        return out.getvalue(), err.getvalue(), error
    return out.getvalue(), err.getvalue(), None


def mutate(draw, content: bytes) -> bytes:
    """Damage a good file the ways files get damaged."""
    how = draw(st.sampled_from(["truncate", "insert", "splice", "reencode", "binary", "none"]))
    if how == "truncate":
        return content[: draw(st.integers(0, len(content)))]
    if how == "insert":
        at = draw(st.integers(0, len(content)))
        return content[:at] + draw(st.binary(min_size=1, max_size=40)) + content[at:]
    if how == "splice":
        at = draw(st.integers(0, len(content)))
        text = draw(JUNK_TEXT).encode("utf-8", "surrogatepass")
        return content[:at] + text + content[at:]
    if how == "reencode":
        return content.decode("utf-8").encode(draw(st.sampled_from(ENCODINGS)), "replace")
    if how == "binary":
        return draw(st.binary(max_size=300))
    return content


# --- Feeds ---------------------------------------------------------------------------------

ITEM = (
    "<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>"
    "<pubDate>{date}</pubDate><category>{category}</category>"
    "<description>{body}</description></item>"
)


@st.composite
def feed_items(draw) -> bytes:
    """An RSS feed whose items carry arbitrary fields, escaped as XML or raw."""
    raw = draw(st.booleans())
    field = JUNK_TEXT.map(lambda v: v if raw else escape(v))
    items = [
        ITEM.format(
            title=draw(field),
            link=draw(st.one_of(st.just("https://gazette.example/a"), field)),
            guid=draw(st.one_of(st.just(f"id-{n}"), field)),
            date=draw(st.one_of(st.just("Mon, 02 Mar 2026 08:00:00 GMT"), field)),
            category=draw(field),
            body=draw(field),
        )
        for n in range(draw(st.integers(1, 3)))
    ]
    document = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{draw(field)}</title>{''.join(items)}</channel></rss>"
    )
    return document.encode("utf-8", "surrogatepass")


@st.composite
def broken_feeds(draw) -> bytes:
    base = draw(st.one_of(st.sampled_from([RSS, ATOM]), feed_items()))
    return mutate(draw, base)


def assert_complete(article: Article) -> None:
    for name in ("title", "body", "slug", "external_id"):
        value = getattr(article, name)
        assert value and value.strip(), f"{name} is empty"
    for name in ("title", "summary", "body", "author", "external_id", "canonical_url"):
        assert "\x00" not in getattr(article, name)
    assert article.source_id


def assert_import_report(out: str, err: str, before_articles: int, entries: int) -> None:
    """The one-line summary adds up, each refusal is printed by name, and exactly the
    created articles exist, each complete."""
    created, updated, skipped, errors = map(int, SUMMARY.search(out).groups())
    assert created + updated + skipped + errors == entries
    assert err.count("Refused ") == errors
    assert Article.objects.count() == before_articles + created
    for article in Article.objects.all():
        assert_complete(article)


def assert_file_import(rolled_back, path, content: bytes, command: str, *, entries) -> None:
    """Import `content` from `path` with `command`: refused whole with "nothing imported" and
    nothing written, or imported entry by entry as `assert_import_report` checks, ending with
    exit code 2 when some were refused (`entries` counts what the file holds, asked only when
    it was read)."""
    path.write_bytes(content)
    with rolled_back():
        before = database_snapshot()
        articles = Article.objects.count()
        out, err, error = run(command, str(path))
        if error is not None and error.returncode == 2:  # some entries refused, others imported
            assert str(error).startswith("Refused ")
            assert_import_report(out, err, articles, entries())
        elif error is not None:
            assert "nothing imported" in str(error).lower()
            assert changed_tables(before, database_snapshot()) == {}
        else:
            assert_import_report(out, err, articles, entries())


@fuzz_settings(25)
@given(content=broken_feeds())
def test_a_broken_feed_file_is_refused_whole_or_entry_by_entry(rolled_back, tmp_path, content):
    assert_file_import(
        rolled_back,
        tmp_path / "feed.xml",
        content,
        "import_feed",
        entries=lambda: len(feed_parse(content).entries),
    )


CONTROL_TEXT = st.text(alphabet=st.characters(max_codepoint=0x7F), min_size=1, max_size=12)


@fuzz_settings(25)
@given(title=CONTROL_TEXT, guid=CONTROL_TEXT, link=CONTROL_TEXT, body=CONTROL_TEXT)
@example(title="A", guid="g\x00h", link="a\x00", body="body")
def test_control_characters_in_a_feed_entry_never_break_the_import(
    rolled_back, tmp_path, title, guid, link, body
):
    """NUL and other control characters, raw or as character references, in every field:
    PostgreSQL refuses NUL in text, so none may reach a row (an entry's id once did, and the
    import stopped half-way with a database error)."""
    item = ITEM.format(
        title=escape(title),
        link="https://gazette.example/" + escape(link),
        guid=escape(guid),
        date="",
        category="",
        body=escape(body),
    )
    good = ITEM.format(
        title="Harbour news", link="https://gazette.example/ok", guid="ok-1", date="",
        category="", body="A complete entry.",
    )  # fmt: skip
    document = f'<rss version="2.0"><channel><title>T</title>{item}{good}</channel></rss>'
    path = tmp_path / "feed.xml"
    path.write_bytes(document.encode())
    with rolled_back():
        articles = Article.objects.count()
        out, err, error = run("import_feed", str(path))
        assert error is None or error.returncode == 2, str(error)  # 2: an entry refused
        assert_import_report(out, err, articles, 2)
        assert Article.objects.filter(external_id="ok-1").exists()


# --- MIND news.tsv (import_mind) -------------------------------------------------------------

FIELD = st.one_of(
    st.sampled_from(["N1", "news", "sports", "Title", "https://example.org/n", "[]", ""]),
    JUNK_TEXT,
)


@st.composite
def mind_news_files(draw) -> bytes:
    """Rows of one to ten tab-separated fields (MIND has eight), mixed with good rows."""
    good = [line for line in MIND_NEWS.decode().splitlines() if line]
    rows = draw(
        st.lists(
            st.one_of(
                st.sampled_from(good),
                st.lists(FIELD, min_size=1, max_size=10).map("\t".join),
            ),
            min_size=1,
            max_size=6,
        )
    )
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    content = newline.join(rows).encode("utf-8", "surrogatepass")
    return mutate(draw, content) if draw(st.booleans()) else content


@fuzz_settings(25)
@given(content=mind_news_files())
def test_a_broken_mind_file_is_refused_whole_or_row_by_row(rolled_back, tmp_path, content):
    assert_file_import(
        rolled_back,
        tmp_path / "news.tsv",
        content,
        "import_mind",
        entries=lambda: len(mind_parse(content)),
    )


def test_a_mind_field_longer_than_csvs_limit_is_read_not_fatal(rolled_back, tmp_path):
    """A 200,000-character title (over the csv module's field limit) and a stray carriage
    return once stopped the whole file; now the row is read and its title cut to fit."""
    good = MIND_NEWS.decode().splitlines()[0]
    path = tmp_path / "news.tsv"
    huge = "Long " * 40_000
    path.write_text(f"{good}\rN2\tnews\tx\t{huge}\tabstract\t\t[]\t[]\n", encoding="utf-8")
    with rolled_back():
        out = run_or_raise("import_mind", str(path))
        assert "created 2, updated 0, skipped 0, errors 0" in out
        title = Article.objects.get(external_id="N2").title
        assert len(title) <= 200 and title.startswith("Long Long") and title.endswith("…")


def run_or_raise(name: str, *argv) -> str:
    out, _, error = run(name, *argv)
    if error is not None:
        raise error
    return out


# --- MIND folders (evaluate_recommender --mind) ------------------------------------------------


@st.composite
def mind_behaviors_files(draw) -> bytes:
    good = [line for line in MIND_BEHAVIORS.decode().splitlines() if line]
    field = st.one_of(
        st.sampled_from(["1", "U1", "11/14/2019 8:00:00 AM", "N1 N2", "N3-1 N5-0", "N3-2", ""]),
        JUNK_TEXT,
    )
    rows = draw(
        st.lists(
            st.one_of(
                st.sampled_from(good), st.lists(field, min_size=1, max_size=7).map("\t".join)
            ),
            min_size=1,
            max_size=5,
        )
    )
    content = "\n".join(rows).encode("utf-8", "surrogatepass")
    return mutate(draw, content) if draw(st.booleans()) else content


EVALUATION_REFUSALS = ("Not MIND-format data", "Cannot read", "nothing can be scored")


@fuzz_settings(20)
@given(
    news=st.one_of(st.just(MIND_NEWS), mind_news_files()),
    behaviors=st.one_of(st.just(MIND_BEHAVIORS), mind_behaviors_files()),
)
def test_a_broken_mind_folder_is_refused_with_a_clear_message(
    rolled_back, tmp_path, news, behaviors
):
    (tmp_path / "news.tsv").write_bytes(news)
    (tmp_path / "behaviors.tsv").write_bytes(behaviors)
    with rolled_back():
        before = database_snapshot()
        out, err, error = run("evaluate_recommender", "--mind", str(tmp_path), "--json")
        if error is not None:
            assert any(reason in str(error) for reason in EVALUATION_REFUSALS), str(error)
        else:
            assert json.loads(out)["impressions"] >= 1
        assert changed_tables(before, database_snapshot()) == {}


@pytest.mark.parametrize("huge_file", ["news.tsv", "behaviors.tsv"])
def test_a_mind_folder_with_a_field_over_the_csv_limit_is_read_like_any_other(tmp_path, huge_file):
    (tmp_path / "news.tsv").write_bytes(MIND_NEWS)
    (tmp_path / "behaviors.tsv").write_bytes(MIND_BEHAVIORS)
    huge = "N1 " * 60_000
    if huge_file == "news.tsv":
        row = f"N9\tspace\tx\t{huge}\tabstract\thttps://example.org/n9\t[]\t[]\n"
    else:
        row = f"5\tU5\t11/15/2019 11:00:00 AM\t{huge}\tN1-1 N2-0\n"
    with (tmp_path / huge_file).open("a", encoding="utf-8") as handle:
        handle.write(row)
    # MIND never quotes a field, so a long one is just long: the row counts like any other.
    report = json.loads(run_or_raise("evaluate_recommender", "--mind", str(tmp_path), "--json"))
    assert report["impressions"] >= 1


# --- Demo documents (seed_demo --dir) --------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | JUNK_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
ARTICLE_KEYS = ["slug", "title", "summary", "body", "topics", "author", "days_ago", "editors_pick"]


@st.composite
def demo_documents(draw):
    """Documents shaped like the demo content, with any value in any place."""
    topic = st.fixed_dictionaries({}, optional={"name": JSON, "slug": JSON, "description": JSON})
    article = st.fixed_dictionaries(
        {},
        optional={
            "slug": st.one_of(st.from_regex(r"\A[a-z0-9-]{1,20}\Z"), JSON),
            "title": JSON,
            "summary": JSON,
            "body": JSON,
            "topics": st.one_of(st.lists(st.sampled_from(["t", "u"]), max_size=2), JSON),
            "author": JSON,
            "days_ago": st.one_of(st.integers(-5, 5), JSON),
            "editors_pick": JSON,
        },
    )
    return draw(
        st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "topics": st.one_of(st.lists(topic, max_size=2), JSON),
                    "articles": st.one_of(st.lists(article, max_size=3), JSON),
                },
            ),
            JSON,
        )
    )


@fuzz_settings(25)
@given(document=demo_documents())
def test_a_malformed_demo_document_loads_nothing(rolled_back, tmp_path, document):
    (tmp_path / "demo.json").write_text(json.dumps(document), encoding="utf-8")
    with rolled_back():
        before = database_snapshot()
        out, err, error = run("seed_demo", "--dir", str(tmp_path), "--no-accounts", "--no-model")
        if error is not None:
            assert "nothing loaded" in str(error) or "Cannot read" in str(error), str(error)
            assert changed_tables(before, database_snapshot()) == {}
        else:
            assert "Demo content:" in out
            for article in Article.objects.all():
                assert_complete_demo(article)


def assert_complete_demo(article: Article) -> None:
    for name in ("title", "summary", "body", "slug"):
        assert getattr(article, name).strip()
    assert article.topics.exists()
