"""Feed and MIND ingest as editors see it: what arrives, what is cleaned away, what a second
run does, and what lands in a source's error log."""

import re
from datetime import UTC, datetime

import pytest
import time_machine

from news import services
from news.ingest import (
    FeedUnreadable,
    feed_parse,
    html_to_paragraphs,
    mind_parse,
    sanitize_html,
)
from news.models import Article, ArticleRevision, Source, SourceError, Topic
from news.safe_fetch import Fetched
from tests.factories import EditorFactory, SourceFactory, TopicFactory

from .conftest import FIXTURES

Status = Article.Status

HOSTILE = (
    "<p>Hello <b>reader</b>.<script>steal(document.cookie)</script></p>"
    '<p><img src="x" onerror="alert(1)">Picture caption.</p>'
    '<p><a href="javascript:alert(2)">click</a> <a href="https://ok.example/" onclick="x()">'
    "safe link</a></p><style>body{display:none}</style>"
)


def test_sanitising_removes_scripts_event_handlers_and_javascript_links():
    cleaned = sanitize_html(HOSTILE)
    assert "<script" not in cleaned and "steal(" not in cleaned
    assert "onerror" not in cleaned and "onclick" not in cleaned
    assert "javascript:" not in cleaned
    assert "display:none" not in cleaned
    # Basic formatting and safe links survive.
    assert "<b>reader</b>" in cleaned
    assert 'href="https://ok.example/"' in cleaned


def test_bodies_become_plain_paragraphs_without_any_markup():
    body = html_to_paragraphs(HOSTILE)
    assert body == "Hello reader.\n\nPicture caption.\n\nclick safe link"


def test_a_body_keeps_its_https_links_and_nothing_else():
    body = html_to_paragraphs(HOSTILE, links=True)
    assert body == (
        'Hello reader.\n\nPicture caption.\n\nclick <a href="https://ok.example/">safe link</a>'
    )
    mixed = (
        '<p><a href="http://plain.example/">plain</a> <a href="mailto:a@b.example">mail</a> '
        '<a href="/relative">relative</a> <a href="https://x.example/a?b=1&amp;c=2" '
        'title="t" style="color:red" target="_blank">kept</a> <a href="https://x.example/">'
        "<p>a whole paragraph</p></a></p>"
    )
    assert html_to_paragraphs(mixed, links=True).split("\n\n") == [
        'plain mail relative <a href="https://x.example/a?b=1&c=2">kept</a>',
        '<a href="https://x.example/">a whole paragraph</a>',
    ]


def test_images_in_a_feed_are_dropped_and_their_alt_text_kept():
    fragment = (
        '<p>Before <img src="https://cdn.example/chart.png" alt="Chart: prices &lt;up&gt;" '
        'width="600"> after.</p><p><img src="https://tracker.example/1x1.gif"></p>'
    )
    assert sanitize_html(fragment) == "<p>Before  Chart: prices &lt;up&gt;  after.</p><p> </p>"
    assert html_to_paragraphs(fragment, links=True) == "Before Chart: prices <up> after."


def test_text_that_only_reads_like_a_link_does_not_become_one():
    escaped = "<p>Type &lt;a href=&quot;https://x.example/&quot;&gt;this&lt;/a&gt; here.</p>"
    assert html_to_paragraphs(escaped, links=True) == "Type this here."


def test_an_rss_feed_is_parsed_into_entries(feed_bytes):
    feed = feed_parse(feed_bytes("rss.xml"))
    assert (feed.kind, feed.title, len(feed.entries)) == ("rss", "Harbour Gazette", 3)
    ferry = feed.entries[0]
    assert ferry.external_id == "gazette-1001"
    assert ferry.canonical_url == "https://gazette.example/ferry-timetable"
    assert ferry.published_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    assert ferry.body.split("\n\n")[:2] == [
        "The morning ferry leaves ten minutes earlier.",
        "Tickets bought before March stay valid.",
    ]
    assert feed.entries[2].problem == "The entry has no title."


def test_an_atom_feed_is_parsed_with_its_content_and_author(feed_bytes):
    feed = feed_parse(feed_bytes("atom.xml"))
    assert feed.kind == "atom"
    otters = feed.entries[0]
    assert otters.body == "Volunteers counted 41 otters.\n\nThat is twice last year's number."
    assert otters.author == "R. Fisher"
    assert otters.external_id == "urn:valley:otters-2026"


@pytest.mark.parametrize(
    "content", [b"", b"   ", b"this is not xml at all", b"<html><body>Hi</body></html>"]
)
def test_a_document_that_is_not_a_feed_is_unreadable(content):
    with pytest.raises(FeedUnreadable):
        feed_parse(content)


def test_a_feed_cut_short_is_unreadable_and_the_message_says_where(feed_bytes):
    with pytest.raises(FeedUnreadable) as refused:
        feed_parse(feed_bytes("truncated.xml"))
    assert str(refused.value) == (
        "The feed is not well-formed XML (line 20, column 85: no element found); it may have "
        "been cut short or damaged."
    )


@pytest.mark.parametrize(
    "content, where",
    [
        (b"</channel></rss>", "junk after document element"),  # the feed ends twice
        (b"<item><title>A & B</title>", "not well-formed (invalid token)"),  # a bare &
    ],
)
def test_a_feed_with_broken_markup_is_unreadable(feed_bytes, content, where):
    broken = feed_bytes("rss.xml").replace(b"</item>", b"</item>" + content, 1)
    with pytest.raises(
        FeedUnreadable, match=rf"not well-formed XML \(line \d+, column \d+: {re.escape(where)}"
    ):
        feed_parse(broken)


def test_flaws_every_feed_reader_forgives_do_not_refuse_a_feed(feed_bytes):
    # &nbsp; (an HTML entity XML does not define) and an undeclared media: prefix.
    feed = feed_parse(feed_bytes("sloppy.xml"))
    assert feed.title == "Sloppy Weekly"
    assert [e.title for e in feed.entries] == ["Harbour walk reopens", "Ferry fares stay the same"]
    assert feed.warning.startswith("The feed has a flaw that was worked around (line 4, column")


def test_a_feed_that_misdeclares_its_encoding_is_read(feed_bytes):
    content = feed_bytes("atom.xml").replace(b'encoding="utf-8"', b'encoding="us-ascii"')
    content = content.replace(b"Otters counted", "Otters counted near Saint-Rémy".encode())
    feed = feed_parse(content)
    assert feed.entries[0].title == "Otters counted near Saint-Rémy along the river"
    assert "declared as us-ascii" in feed.warning


def test_a_link_that_is_not_http_is_never_kept():
    feed = feed_parse(
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item>'
        b"<title>Trap</title><link>javascript:alert(1)</link><guid>t-1</guid>"
        b"<description>Text.</description></item></channel></rss>"
    )
    assert feed.entries[0].canonical_url == ""
    assert feed.entries[0].external_id == "t-1"


@pytest.fixture
def gazette(db):
    return SourceFactory(name="Harbour Gazette", kind=Source.Kind.RSS, url="")


@pytest.mark.django_db
def test_importing_the_same_feed_twice_creates_then_skips(gazette, feed_bytes):
    first = services.feed_entries_import(source=gazette, feed=feed_parse(feed_bytes("rss.xml")))
    assert (first.created, first.updated, first.skipped, first.errors) == (2, 0, 0, 1)
    second = services.feed_entries_import(source=gazette, feed=feed_parse(feed_bytes("rss.xml")))
    assert (second.created, second.updated, second.skipped, second.errors) == (0, 0, 2, 1)
    assert Article.objects.filter(source=gazette).count() == 2


@pytest.mark.django_db
def test_ingested_articles_arrive_as_drafts_with_clean_text(gazette, feed_bytes):
    TopicFactory(name="Travel", slug="travel")
    services.feed_entries_import(source=gazette, feed=feed_parse(feed_bytes("rss.xml")))
    ferry = Article.objects.get(external_id="gazette-1001")
    assert ferry.status == Status.DRAFT and not ferry.is_live
    assert "script" not in ferry.body and "cookie" not in ferry.body
    assert "onerror" not in ferry.body and "javascript" not in ferry.body
    assert ferry.paragraphs()[0] == "The morning ferry leaves ten minutes earlier."
    # Feed categories attach topics editors already have; none are invented.
    assert [t.name for t in ferry.topics.all()] == ["Travel"]
    assert Topic.objects.count() == 1


@pytest.mark.django_db
def test_an_auto_publishing_source_publishes_with_the_entry_date(feed_bytes):
    source = SourceFactory(kind=Source.Kind.RSS, auto_publish=True)
    services.feed_entries_import(source=source, feed=feed_parse(feed_bytes("rss.xml")))
    ferry = Article.objects.get(external_id="gazette-1001")
    assert ferry.is_live
    assert ferry.published_at == datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


IMPORTED_AT = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize("auto_publish", [False, True])
def test_imported_articles_keep_the_feeds_own_dates(gazette, feed_bytes, auto_publish):
    gazette.auto_publish = auto_publish
    gazette.save()
    with time_machine.travel(IMPORTED_AT, tick=False):
        services.feed_entries_import(source=gazette, feed=feed_parse(feed_bytes("dates.xml")))
    dates = dict(Article.objects.values_list("external_id", "published_at"))
    assert dates == {
        # A date with a zone, in UTC; one without a zone read as UTC.
        "courier-zone": datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
        "courier-no-zone": datetime(2026, 3, 3, 6, 30, tzinfo=UTC),
        # No date: the import's time. A date in the future is not believed beyond now.
        "courier-no-date": IMPORTED_AT,
        "courier-future": IMPORTED_AT,
    }


def test_an_atom_entry_is_dated_when_published_not_when_last_updated():
    feed = feed_parse(
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><entry><title>A</title>'
        b"<id>urn:a</id><published>2026-03-01T09:00:00+01:00</published>"
        b"<updated>2026-03-05T10:00:00Z</updated><summary>Text.</summary></entry></feed>"
    )
    assert feed.entries[0].published_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_draft_from_a_feed_keeps_the_feeds_date_when_an_editor_publishes_it(gazette, feed_bytes):
    services.feed_entries_import(source=gazette, feed=feed_parse(feed_bytes("atom.xml")))
    otters = Article.objects.get(external_id="urn:valley:otters-2026")
    assert otters.status == Status.DRAFT
    services.article_publish(article=otters, changed_by="Ada")
    otters.refresh_from_db()
    assert otters.is_live
    assert otters.published_at == datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_a_polled_feed_cut_short_is_logged_and_nothing_is_imported(feed_bytes):
    source = SourceFactory(kind=Source.Kind.RSS, url="https://gazette.example/rss")
    truncated = feed_bytes("truncated.xml")
    result = services.source_poll(
        source=source, fetcher=lambda url: Fetched(url=url, content=truncated)
    )
    assert (result.created, result.errors) == (0, 1)
    assert not Article.objects.exists()
    assert "may have been cut short" in SourceError.objects.get(source=source).message


@pytest.mark.django_db
def test_a_broken_entry_is_logged_on_the_source_and_the_others_imported(gazette, feed_bytes):
    result = services.feed_entries_import(source=gazette, feed=feed_parse(feed_bytes("rss.xml")))
    assert result.created == 2
    error = SourceError.objects.get(source=gazette)
    assert error.entry_reference == "gazette-1003"
    assert error.message == "The entry has no title."


@pytest.mark.django_db
def test_an_entry_the_database_refuses_leaves_nothing_half_written(gazette, feed_bytes):
    feed = feed_parse(feed_bytes("atom.xml"))
    feed.entries[0].title = "x" * 300  # longer than an article title may be
    result = services.feed_entries_import(source=gazette, feed=feed)
    assert (result.created, result.errors) == (1, 1)
    assert not Article.objects.filter(external_id="urn:valley:otters-2026").exists()
    assert "at most 200 characters" in SourceError.objects.get().message


@pytest.mark.django_db
def test_a_changed_entry_updates_the_article_with_a_revision(gazette, feed_bytes):
    services.feed_entries_import(source=gazette, feed=feed_parse(feed_bytes("atom.xml")))
    changed = feed_bytes("atom.xml").replace(b"Volunteers counted 41", b"Volunteers counted 43")
    result = services.feed_entries_import(source=gazette, feed=feed_parse(changed))
    assert (result.created, result.updated, result.skipped) == (0, 1, 1)
    otters = Article.objects.get(external_id="urn:valley:otters-2026")
    assert otters.paragraphs()[0] == "Volunteers counted 43 otters."
    latest = otters.revisions.first()
    assert latest.origin == ArticleRevision.Origin.FEED
    assert latest.changed_by == "Feed: Harbour Gazette"
    assert set(latest.changes) == {"body", "summary"}


@pytest.mark.django_db
def test_a_feed_update_never_overwrites_an_editors_work(gazette, feed_bytes):
    services.feed_entries_import(source=gazette, feed=feed_parse(feed_bytes("atom.xml")))
    otters = Article.objects.get(external_id="urn:valley:otters-2026")
    services.article_publish(article=otters, changed_by="Ada")  # an editor reviewed it
    changed = feed_bytes("atom.xml").replace(b"Volunteers counted 41", b"Volunteers counted 43")
    result = services.feed_entries_import(source=gazette, feed=feed_parse(changed))
    assert (result.updated, result.skipped) == (0, 2)
    otters.refresh_from_db()
    assert otters.paragraphs()[0] == "Volunteers counted 41 otters."


@pytest.mark.django_db
def test_an_entry_whose_link_is_already_an_article_from_elsewhere_is_skipped(gazette, feed_bytes):
    from tests.factories import ArticleFactory

    mine = ArticleFactory(
        title="Our own otters story", canonical_url="https://valley.example/otters"
    )
    result = services.feed_entries_import(source=gazette, feed=feed_parse(feed_bytes("atom.xml")))
    assert (result.created, result.skipped) == (1, 1)
    mine.refresh_from_db()
    assert mine.title == "Our own otters story" and mine.source is None


@pytest.mark.django_db
def test_the_same_guid_in_two_sources_makes_two_articles(feed_bytes):
    one, two = SourceFactory(kind=Source.Kind.ATOM), SourceFactory(kind=Source.Kind.ATOM)
    content = feed_bytes("atom.xml")
    services.feed_entries_import(source=one, feed=feed_parse(content))
    # The second copy differs in its links, so only the id could match, and ids are per source.
    other = content.replace(b"https://valley.example/", b"https://mirror.example/")
    assert services.feed_entries_import(source=two, feed=feed_parse(other)).created == 2


def test_mind_rows_are_parsed_and_malformed_ones_carry_a_reason():
    entries = mind_parse((FIXTURES / "mind" / "news.tsv").read_bytes())
    assert [e.external_id for e in entries[:3]] == ["N1001", "N1002", "N1003"]
    assert entries[2].topic_names == ["Food and drink"]
    assert entries[2].body == "Soup for cold evenings"  # no abstract: the title stands in
    assert entries[3].problem == "Expected 8 tab-separated columns, found 3."
    assert entries[4].problem == "The row has no title."


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"just,a,csv,file\nwith,commas,only,here\n", "No line has the 8 tab-separated"),
    ],
)
def test_a_file_that_is_not_mind_is_unreadable(content, reason):
    with pytest.raises(FeedUnreadable, match=reason):
        mind_parse(content)


@pytest.mark.django_db
def test_mind_import_maps_categories_to_topics_and_is_idempotent():
    TopicFactory(name="Sports", slug="sports")
    entries = mind_parse((FIXTURES / "mind" / "news.tsv").read_bytes())
    result = services.mind_rows_import(entries=entries)
    assert (result.created, result.skipped, result.errors) == (3, 0, 2)
    assert set(Topic.objects.values_list("name", flat=True)) == {"News", "Sports", "Food and drink"}
    library = Article.objects.get(external_id="N1001")
    assert [t.name for t in library.topics.all()] == ["News"]
    assert library.canonical_url == "https://assets.msn.com/labs/mind/N1001.html"
    assert library.status == Status.DRAFT

    again = services.mind_rows_import(
        entries=mind_parse((FIXTURES / "mind" / "news.tsv").read_bytes())
    )
    assert (again.created, again.skipped, again.errors) == (0, 3, 2)


@pytest.mark.django_db
def test_revisions_name_the_editor_as_text_not_an_account(gazette, feed_bytes):
    """Revisions name people as text: no account is referenced, so erasing one loses nothing."""
    editor = EditorFactory(display_name="Grace")
    services.feed_entries_import(source=gazette, feed=feed_parse(feed_bytes("atom.xml")))
    article = Article.objects.filter(source=gazette).first()
    services.article_publish(article=article, changed_by=editor.get_short_name())
    assert article.revisions.first().changed_by == "Grace"
    # A revision may point at its article or at another revision (the one it restored), never
    # at an account.
    assert all(
        not f.is_relation or f.related_model in (Article, ArticleRevision)
        for f in ArticleRevision._meta.fields
    )
