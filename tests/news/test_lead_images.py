"""Lead images as editors and readers meet them: uploaded in the admin, checked, resized once
without the photo's metadata, shown on cards and the article page, served at their address,
in the API; and what feed ingest keeps of links and images."""

import random
import struct
import zlib
from datetime import timedelta
from io import BytesIO

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from PIL import ExifTags, Image

from news import images, services, tasks
from news.models import LEAD_IMAGE_ALT_REQUIRED, Article
from news.safe_fetch import Fetched
from tests.factories import ArticleFactory, SourceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploads go to a folder of the test's own: nothing is written into the repository."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_URL = "/media/"
    return settings.MEDIA_ROOT


def _stored(media_root) -> list[str]:
    return (
        sorted(p.name for p in media_root.rglob("*") if p.is_file()) if media_root.exists() else []
    )


def _photo(size=(3000, 2000), *, image_format="JPEG", orientation=None, gps=True) -> bytes:
    """A camera-like photo: a picture with the phone's make and its GPS position in EXIF."""
    image = Image.new("RGB", size, (30, 120, 200))
    image.paste((240, 200, 40), (0, 0, size[0] // 2, size[1] // 3))  # a mark at top left
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneCam"
    if orientation:
        exif[ExifTags.Base.Orientation] = orientation
    if gps:
        position = exif.get_ifd(ExifTags.IFD.GPSInfo)
        position[ExifTags.GPS.GPSLatitudeRef] = "N"
        position[ExifTags.GPS.GPSLatitude] = (52.0, 22.0, 5.0)
    buffer = BytesIO()
    image.save(buffer, image_format, exif=exif)
    return buffer.getvalue()


def _upload(content: bytes, name="holiday-at-home.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="image/jpeg")


def _form(article: Article, **changes) -> dict:
    data = {
        "title": article.title,
        "slug": article.slug,
        "summary": article.summary,
        "body": article.body,
        "author": article.author,
        "status": article.status,
        "published_at_0": article.published_at.strftime("%Y-%m-%d"),
        "published_at_1": article.published_at.strftime("%H:%M:%S"),
        "lead_image_alt": article.lead_image_alt,
        "lead_image_caption": article.lead_image_caption,
        "lead_image_credit": article.lead_image_credit,
    }
    data.update(changes)
    return data


def _save_in_admin(client, article, **changes):
    return client.post(
        reverse("admin:news_article_change", args=[article.pk]), _form(article, **changes)
    )


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


# --- Upload and renditions --------------------------------------------------------------------


def test_an_editor_uploads_a_photo_and_readers_get_two_small_copies_without_its_metadata(
    editor_client, media_root
):
    article = ArticleFactory()
    response = _save_in_admin(
        editor_client,
        article,
        lead_image_upload=_upload(_photo((3000, 2000))),
        lead_image_alt="Ferry leaving the harbour at dawn",
        lead_image_caption="The first crossing of the day.",
        lead_image_credit="Photo: A. Reporter",
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    article.refresh_from_db()
    assert (article.lead_image_width, article.lead_image_height) == (1200, 800)
    assert (article.lead_image_card_width, article.lead_image_card_height) == (480, 320)
    assert article.lead_image_alt == "Ferry leaving the harbour at dawn"
    # Only the two renditions are kept, under names that say nothing of the upload's.
    assert len(_stored(media_root)) == 2
    assert not any("holiday" in name for name in _stored(media_root))
    for field, size in (("lead_image", (1200, 800)), ("lead_image_card", (480, 320))):
        with Image.open(getattr(article, field).path) as stored:
            assert stored.size == size
            assert stored.format == "JPEG"
            assert dict(stored.getexif()) == {}  # no camera, no GPS position
            assert "exif" not in stored.info and "xmp" not in stored.info


def test_a_photo_taken_sideways_is_turned_as_the_camera_meant(editor_client):
    article = ArticleFactory()
    # Stored 2000 x 1000 with "rotate 90°" in its EXIF: the picture is 1000 wide, 2000 high.
    _save_in_admin(
        editor_client,
        article,
        lead_image_upload=_upload(_photo((2000, 1000), orientation=6)),
        lead_image_alt="A lighthouse",
    )
    article.refresh_from_db()
    assert (article.lead_image_width, article.lead_image_height) == (800, 1600)
    with Image.open(article.lead_image.path) as stored:
        assert ExifTags.Base.Orientation not in stored.getexif()
        # The yellow mark was at the top left of the stored pixels; turned, it is at top right.
        assert stored.getpixel((stored.width - 5, 5))[2] < 100
        assert stored.getpixel((5, 5))[2] > 150


@pytest.mark.parametrize("image_format", ["PNG", "WEBP"])
def test_png_and_webp_keep_their_format_and_a_small_image_is_not_enlarged(image_format):
    article = ArticleFactory()
    content = _photo((400, 300), image_format=image_format, gps=False)
    images.article_lead_image_set(
        article=article, upload=_upload(content, f"chart.{image_format.lower()}"), alt="A chart"
    )
    article.refresh_from_db()
    assert article.lead_image.name.endswith(f".{image_format.lower()}")
    assert (article.lead_image_width, article.lead_image_height) == (400, 300)
    with Image.open(article.lead_image_card.path) as card:
        assert (card.format, card.size) == (image_format, (400, 300))


def test_saving_again_without_a_new_upload_keeps_the_same_files(editor_client, media_root):
    article = ArticleFactory()
    _save_in_admin(
        editor_client, article, lead_image_upload=_upload(_photo()), lead_image_alt="A ferry"
    )
    article.refresh_from_db()
    names = (article.lead_image.name, article.lead_image_card.name)
    stored = {name: (media_root / name).read_bytes() for name in names}

    response = _save_in_admin(editor_client, article, lead_image_caption="Now with a caption")
    assert response.status_code == 302
    article.refresh_from_db()
    assert (article.lead_image.name, article.lead_image_card.name) == names
    assert {name: (media_root / name).read_bytes() for name in names} == stored
    assert article.lead_image_caption == "Now with a caption"
    assert len(_stored(media_root)) == 2


def test_a_new_upload_replaces_the_image_and_the_old_files_go_after_the_save(
    editor_client, media_root, django_capture_on_commit_callbacks
):
    article = ArticleFactory()
    _save_in_admin(
        editor_client, article, lead_image_upload=_upload(_photo()), lead_image_alt="A ferry"
    )
    article.refresh_from_db()
    old = article.lead_image.name
    with django_capture_on_commit_callbacks(execute=True):
        _save_in_admin(
            editor_client,
            article,
            lead_image_upload=_upload(_photo((1000, 1000), gps=False)),
            lead_image_alt="A square ferry",
        )
    article.refresh_from_db()
    assert article.lead_image.name != old
    assert (article.lead_image_width, article.lead_image_height) == (1000, 1000)
    assert not (media_root / old).exists()
    assert len(_stored(media_root)) == 2


def test_removing_the_image_takes_it_off_the_page_and_deletes_its_files(
    editor_client, media_root, django_capture_on_commit_callbacks
):
    article = ArticleFactory()
    _save_in_admin(
        editor_client, article, lead_image_upload=_upload(_photo()), lead_image_alt="A ferry"
    )
    article.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        response = _save_in_admin(editor_client, article, lead_image_remove="on")
    assert response.status_code == 302, response.content.decode()[:3000]
    article.refresh_from_db()
    assert not article.lead_image and not article.lead_image_card
    assert article.lead_image_alt == ""
    assert _stored(media_root) == []
    assert "<figure" not in editor_client.get(article.get_absolute_url()).content.decode()


def test_the_change_page_shows_a_thumbnail_of_the_current_image(editor_client):
    article = ArticleFactory()
    _save_in_admin(
        editor_client, article, lead_image_upload=_upload(_photo()), lead_image_alt="A ferry"
    )
    article.refresh_from_db()
    html = editor_client.get(reverse("admin:news_article_change", args=[article.pk])).content
    html = html.decode()
    assert f'src="{article.lead_image_card.url}" width="240" height="160" alt="A ferry"' in html
    assert 'enctype="multipart/form-data"' in html


# --- Refusals: a clear message, nothing saved -------------------------------------------------


def _refused(client, media_root, article, **changes) -> str:
    before = Article.objects.filter(pk=article.pk).values().get()
    response = _save_in_admin(client, article, **changes)
    assert response.status_code == 200  # the form again, with the reason
    assert Article.objects.filter(pk=article.pk).values().get() == before
    assert _stored(media_root) == []
    return response.content.decode()


def test_an_image_without_alt_text_is_refused_in_plain_words(editor_client, media_root):
    article = ArticleFactory(title="Old title")
    html = _refused(
        editor_client,
        media_root,
        article,
        title="New title",
        lead_image_upload=_upload(_photo()),
        lead_image_alt="  ",
    )
    assert "Describe the lead image in a few words (alt text)" in html


def test_the_article_itself_refuses_an_image_without_alt_text():
    article = ArticleFactory()
    images.article_lead_image_set(article=article, upload=_upload(_photo()), alt="A ferry")
    article.lead_image_alt = ""
    with pytest.raises(Exception) as refused:
        article.full_clean()
    assert refused.value.message_dict == {"lead_image_alt": [LEAD_IMAGE_ALT_REQUIRED]}


def test_clearing_the_alt_text_of_an_image_is_refused(editor_client, media_root):
    article = ArticleFactory()
    _save_in_admin(
        editor_client, article, lead_image_upload=_upload(_photo()), lead_image_alt="A ferry"
    )
    article.refresh_from_db()
    response = _save_in_admin(editor_client, article, lead_image_alt="")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("Describe the lead image in a few words") == 1
    article.refresh_from_db()
    assert article.lead_image_alt == "A ferry"


def _gif() -> bytes:
    buffer = BytesIO()
    Image.new("RGB", (20, 20)).save(buffer, "GIF")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"Dear editor, this is a letter, not a photo.", "is not a JPEG, PNG or WebP image"),
        (_gif(), "This file is a GIF image or document; upload a JPEG, PNG or WebP image"),
        # A JPEG cut short half way (an upload interrupted, a damaged file).
        (_photo((800, 600))[:3000], "is not a JPEG, PNG or WebP image, or it is damaged"),
        (b"", "The submitted file is empty"),
    ],
    ids=["text", "gif", "truncated", "empty"],
)
def test_a_file_that_is_not_an_accepted_image_is_refused(editor_client, media_root, content, says):
    html = _refused(
        editor_client,
        media_root,
        ArticleFactory(),
        lead_image_upload=_upload(content),
        lead_image_alt="Something",
    )
    assert says in html


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG of a few hundred bytes that declares a huge picture (a "decompression bomb")."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("size", "says"),
    [
        ((8000, 8000), "The image is 8,000 × 8,000 pixels (64 megapixels)"),
        ((30000, 30000), "The image is more than 40 megapixels"),
    ],
)
def test_an_image_of_too_many_pixels_is_refused_before_it_is_decoded(
    editor_client, media_root, size, says
):
    html = _refused(
        editor_client,
        media_root,
        ArticleFactory(),
        lead_image_upload=_upload(_png_declaring(*size), "bomb.png"),
        lead_image_alt="Something",
    )
    assert says in html
    assert "the largest accepted is 40 megapixels" in html


def test_a_file_too_large_in_bytes_is_refused(editor_client, media_root, monkeypatch):
    monkeypatch.setattr(images, "MAX_BYTES", 100_000)
    noise = Image.frombytes("RGB", (300, 300), random.Random(7).randbytes(300 * 300 * 3))
    buffer = BytesIO()
    noise.save(buffer, "PNG")
    assert len(buffer.getvalue()) > 100_000
    html = _refused(
        editor_client,
        media_root,
        ArticleFactory(),
        lead_image_upload=_upload(buffer.getvalue(), "noise.png"),
        lead_image_alt="Noise",
    )
    assert "The file is 0.3 MB; the largest accepted is 0.1 MB" in html


def test_uploading_and_removing_at_once_is_refused(editor_client, media_root):
    html = _refused(
        editor_client,
        media_root,
        ArticleFactory(),
        lead_image_upload=_upload(_photo()),
        lead_image_alt="A ferry",
        lead_image_remove="on",
    )
    assert "Either upload a new image or remove this one, not both." in html


# --- What readers see ---------------------------------------------------------------------------


@pytest.fixture
def pictured(topic):
    article = ArticleFactory(topics=[topic], title="Ferry timetable changes")
    images.article_lead_image_set(
        article=article,
        upload=_upload(_photo()),
        alt="Ferry & harbour at dawn",
        caption="The first crossing.",
        credit="Photo: A. Reporter",
    )
    return article


def test_cards_show_the_small_image_with_its_alt_text_and_size(client, topic, pictured):
    plain = ArticleFactory(topics=[topic], title="No picture here")
    html = client.get(reverse("news:topic", kwargs={"slug": topic.slug})).content.decode()
    card = (
        f'<img class="card-image" src="{pictured.lead_image_card.url}" width="480" height="320" '
        f'alt="Ferry &amp; harbour at dawn" loading="lazy" decoding="async">'
    )
    assert card in html
    assert html.count('class="card-image"') == 1  # the card without an image has none
    assert plain.title in html


def test_the_home_page_shows_card_images_without_more_queries(
    client, topic, django_assert_max_num_queries
):
    for number in range(4):
        images.article_lead_image_set(
            article=ArticleFactory(topics=[topic]),
            upload=_upload(_photo((1300, 900), gps=False)),
            alt=f"Picture {number}",
        )
    # As many queries as the home page makes without images (tests/news/test_views.py).
    with django_assert_max_num_queries(8):
        html = client.get(reverse("news:home")).content.decode()
    assert html.count('class="card-image"') == 4
    assert 'alt="Picture 3"' in html


def test_a_cached_card_shows_a_new_image_at_once(client, topic, pictured):
    url = reverse("news:topic", kwargs={"slug": topic.slug})
    first = pictured.lead_image_card.url
    assert first in client.get(url).content.decode()
    images.article_lead_image_set(
        article=pictured, upload=_upload(_photo((1600, 900))), alt="A new picture"
    )
    html = client.get(url).content.decode()
    assert pictured.lead_image_card.url in html and first not in html
    assert 'alt="A new picture"' in html


def test_the_article_page_shows_the_image_with_caption_and_credit(client, pictured):
    html = client.get(pictured.get_absolute_url()).content.decode()
    assert (
        f'<img src="{pictured.lead_image.url}" width="1200" height="800" '
        f'alt="Ferry &amp; harbour at dawn">'
    ) in html
    assert (
        '<figcaption><span class="caption">The first crossing.</span> '
        '<span class="credit">Photo: A. Reporter</span></figcaption>'
    ) in html


def test_an_article_without_an_image_has_no_figure(client, article):
    assert "<figure" not in client.get(article.get_absolute_url()).content.decode()


def test_the_image_is_served_at_its_address_when_the_site_serves_media(client, settings, pictured):
    settings.SERVE_MEDIA = True
    response = client.get(pictured.lead_image.url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    body = b"".join(response.streaming_content)
    assert body == pictured.lead_image.read()
    assert "immutable" in response["Cache-Control"]
    # Nothing outside the media folder can be reached through it.
    assert client.get("/media/../newsite/settings.py").status_code in (400, 404)

    settings.SERVE_MEDIA = False  # production: the web server answers these, not Django
    assert client.get(pictured.lead_image.url).status_code == 404


def test_the_page_policy_lets_the_site_s_own_images_load(client, pictured):
    policy = client.get(pictured.get_absolute_url())["Content-Security-Policy"]
    assert "img-src 'self'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy


def test_the_api_gives_the_image_with_its_words(client, pictured, article):
    data = client.get(reverse("api:article", kwargs={"slug": pictured.slug})).json()
    assert data["lead_image"] == {
        "url": pictured.lead_image.url,
        "width": 1200,
        "height": 800,
        "card_url": pictured.lead_image_card.url,
        "card_width": 480,
        "card_height": 320,
        "alt": "Ferry & harbour at dawn",
        "caption": "The first crossing.",
        "credit": "Photo: A. Reporter",
    }
    listed = client.get(reverse("api:articles")).json()["results"]
    by_slug = {item["slug"]: item["lead_image"] for item in listed}
    assert by_slug[article.slug] is None
    assert by_slug[pictured.slug]["alt"] == "Ferry & harbour at dawn"


# --- Links and images from feeds ----------------------------------------------------------------

FEED_WITH_LINKS_AND_IMAGES = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Harbour Gazette</title>
<item><guid>links-1</guid><title>Timetable changes</title>
<link>https://gazette.example/timetable</link>
<description><![CDATA[
<p>Read <a href="https://port.example/timetable.pdf" title="pdf" onclick="steal()">the new
timetable</a> or <a href="http://port.example/old">the old one</a> or
<a href="javascript:alert(1)">this</a>.</p>
<p><img src="https://tracker.example/pixel.gif?reader=1" alt="Map of the new route"> <img
src="https://tracker.example/spy.gif"> Boats leave at six.</p>
]]></description></item>
</channel></rss>"""


def test_an_imported_story_keeps_its_https_links_and_drops_remote_images(client):
    source = SourceFactory(kind="rss", url="https://gazette.example/feed", auto_publish=True)
    result = services.source_poll(
        source=source, fetcher=lambda url: Fetched(url=url, content=FEED_WITH_LINKS_AND_IMAGES)
    )
    assert result.created == 1, result.summary()
    story = Article.objects.get(external_id="links-1")
    page = client.get(story.get_absolute_url()).content.decode()
    html = page.split('<article class="story">')[1].split("</article>")[0]
    assert (
        '<p>Read <a href="https://port.example/timetable.pdf" rel="nofollow noopener">'
        "the new timetable</a> or the old one or this.</p>"
    ) in html
    # The remote pictures are not on the page (nor is any request to their server); the alt
    # text of the one that had it is.
    assert "tracker.example" not in page and "<img" not in html
    assert "<p>Map of the new route Boats leave at six.</p>" in html
    assert "onclick" not in html and "javascript:" not in html and "title=" not in html


def test_an_image_and_its_words_are_recorded_in_the_articles_history(editor_client):
    article = ArticleFactory()
    _save_in_admin(
        editor_client,
        article,
        lead_image_upload=_upload(_photo((800, 600))),
        lead_image_alt="A ferry at dawn",
    )
    _save_in_admin(editor_client, article, lead_image_alt="The first ferry of the day at dawn")

    newest, added = article.revisions.order_by("-created_at", "-id")[:2]
    assert set(added.changes) == {"lead_image", "lead_image_alt"}
    assert added.changes["lead_image"]["old"] == ""
    assert added.changes["lead_image"]["new"].startswith("lead-images/")
    assert newest.changes == {
        "lead_image_alt": {"old": "A ferry at dawn", "new": "The first ferry of the day at dawn"}
    }


class _SaveFailedAfterTheFiles(Exception):
    pass


def test_files_a_failed_save_left_behind_are_deleted_once_no_save_can_still_want_them(
    client, topic, pictured, media_root
):
    shown = sorted(images.lead_image_names(article=pictured))
    other = ArticleFactory(topics=[topic])
    # The files are written before the save's transaction ends; the save then fails.
    with pytest.raises(_SaveFailedAfterTheFiles), transaction.atomic():
        images.article_lead_image_set(article=other, upload=_upload(_photo()), alt="A quay")
        raise _SaveFailedAfterTheFiles
    other.refresh_from_db()
    assert not other.lead_image
    assert len(_stored(media_root)) == 4

    # Within the hour a save may still be writing its files: they stay.
    assert tasks.lead_images_orphaned_delete.apply().get() == 0
    assert len(_stored(media_root)) == 4

    with time_machine.travel(timezone.now() + images.ORPHAN_GRACE + timedelta(minutes=1)):
        assert tasks.lead_images_orphaned_delete.apply().get() == 2
        assert tasks.lead_images_orphaned_delete.apply().get() == 0

    assert sorted(f"lead-images/{name}" for name in _stored(media_root)) == shown
    page = client.get(pictured.get_absolute_url())
    assert pictured.lead_image.url in page.content.decode()


def test_the_sweep_has_nothing_to_do_before_any_image_was_stored(media_root):
    assert images.lead_images_orphaned_delete() == 0
