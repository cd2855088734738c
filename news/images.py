"""Articles' lead images: checking an upload (a real JPEG, PNG or WebP, within a size in bytes
and in pixels), making the two renditions readers get, once, re-encoded without the photo's
metadata (camera, time, GPS position), and storing them in the media storage. The upload
itself is never stored."""

import secrets
import warnings
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from .models import LEAD_IMAGE_ALT_REQUIRED, Article

# Upload format (Pillow's name) -> the file extension of its renditions, which keep the format.
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MAX_BYTES = 10 * 1024 * 1024
# Decoding needs about 4 bytes a pixel: 40 megapixels (an 8,000 x 5,000 photo) is 160 MB held
# for a moment; a small file can declare far more (a "decompression bomb"), so the size it
# declares is read and refused before anything is decoded.
MAX_PIXELS = 40_000_000
# The article page's image (its column is about 700 px wide: 1200 covers screens of 1.7
# dppx) and the card's. Neither is ever enlarged; a very tall image is bounded by its height.
LARGE_BOX = (1200, 1600)
CARD_BOX = (480, 640)
QUALITY = 82

# What other common files begin with, to name them in the refusal.
_OTHER_KINDS = (
    (b"GIF8", "a GIF"),
    (b"II*\x00", "a TIFF"),
    (b"MM\x00*", "a TIFF"),
    (b"BM", "a BMP"),
    (b"%PDF", "a PDF"),
    (b"<svg", "an SVG"),
    (b"<?xml", "an SVG or other XML"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"heif", b"avif")
ACCEPTED = "JPEG, PNG or WebP"


@dataclass(frozen=True)
class Rendition:
    content: bytes
    width: int
    height: int


@dataclass(frozen=True)
class LeadImage:
    """The renditions made from one upload, not yet stored."""

    extension: str
    large: Rendition
    card: Rendition


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _kind_of(head: bytes) -> str | None:
    start = head.lstrip()[:8]
    for magic, name in _OTHER_KINDS:
        if start.startswith(magic):
            return name
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "a HEIC/AVIF"
    return None


def _not_accepted(head: bytes) -> ValidationError:
    kind = _kind_of(head)
    if kind:
        return ValidationError(
            f"This file is {kind} image or document; upload a {ACCEPTED} image instead "
            f"(most photo apps can export one).",
            code="format",
        )
    return ValidationError(
        f"This file is not a {ACCEPTED} image, or it is damaged. Upload the image again, "
        f"exported as {ACCEPTED}.",
        code="invalid",
    )


def _too_many_pixels(width: int | None = None, height: int | None = None) -> ValidationError:
    declared = (
        f"{width:,} × {height:,} pixels ({width * height / 1e6:.0f} megapixels)"
        if width and height
        else f"more than {MAX_PIXELS / 1e6:.0f} megapixels"
    )
    return ValidationError(
        f"The image is {declared}; the largest accepted is {MAX_PIXELS / 1e6:.0f} megapixels. "
        f"Export it smaller (2,400 pixels wide is plenty) and upload it again.",
        code="pixels",
    )


def _opened(data: bytes) -> Image.Image:
    """The upload opened as one of the accepted formats (headers only, nothing decoded yet)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data), formats=list(FORMATS))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _too_many_pixels() from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise _not_accepted(data[:16]) from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise _too_many_pixels(width, height)
    return image


def _encoded(image: Image.Image, *, image_format: str, icc_profile: bytes | None) -> Rendition:
    # Nothing of the upload's metadata is passed on: no EXIF (camera, time, GPS), no XMP, no
    # text chunks; only the colour profile, which changes how the picture looks.
    image.info = {}
    options: dict = {"icc_profile": icc_profile} if icc_profile else {}
    if image_format == "JPEG":
        options.update(quality=QUALITY, optimize=True, progressive=True)
    elif image_format == "WEBP":
        options.update(quality=QUALITY, method=4)
    # PNG at zlib's default level: "optimize" took 6.7 s instead of 1.6 s for a 1200 px photo,
    # for a file 7% smaller.
    buffer = BytesIO()
    image.save(buffer, image_format, **options)
    return Rendition(content=buffer.getvalue(), width=image.width, height=image.height)


def _for_output(image: Image.Image, *, image_format: str) -> Image.Image:
    """The image in a mode its format stores and that resizes smoothly (palette images
    resize pixel by pixel, so they are expanded first)."""
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if image_format == "JPEG":
        return image if image.mode in ("RGB", "L") else image.convert("RGB")
    if has_alpha:
        return image if image.mode == "RGBA" else image.convert("RGBA")
    return image if image.mode in ("RGB", "L") else image.convert("RGB")


def lead_image_prepare(*, upload) -> LeadImage:
    """Check an uploaded file and make the two renditions, or raise ValidationError saying
    plainly what is wrong with it. Writes nothing anywhere."""
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_BYTES:
        raise ValidationError(
            f"The file is {_megabytes(size)}; the largest accepted is "
            f"{_megabytes(MAX_BYTES)}. Export the image smaller and upload it again.",
            code="bytes",
        )
    upload.seek(0)
    data = upload.read(MAX_BYTES + 1)
    if not data:
        raise ValidationError("The file is empty.", code="empty")
    if len(data) > MAX_BYTES:
        raise ValidationError(
            f"The file is larger than {_megabytes(MAX_BYTES)}, the largest accepted. Export the "
            f"image smaller and upload it again.",
            code="bytes",
        )
    image = _opened(data)
    image_format = image.format
    try:
        # verify() reads the whole file for damage (PNG checksums, truncation) but leaves the
        # image unusable, so the file is opened again to decode it.
        image.verify()
        image = _opened(data)
        icc_profile = image.info.get("icc_profile")
        if image_format == "JPEG":
            # Decode at a fraction of the size when the photo is far larger than needed: a
            # fraction of the memory and time, and still at least the large rendition's width.
            image.draft("RGB", (LARGE_BOX[0], LARGE_BOX[0]))
        # Turned as the camera meant (its orientation tag goes with the rest of the metadata).
        # In place, like the resizing: one full-size copy in memory, not three.
        ImageOps.exif_transpose(image, in_place=True)
        large = _for_output(image, image_format=image_format)
        large.thumbnail(LARGE_BOX, Image.Resampling.LANCZOS)
        card = large.copy()
        card.thumbnail(CARD_BOX, Image.Resampling.LANCZOS)
        return LeadImage(
            extension=FORMATS[image_format],
            large=_encoded(large, image_format=image_format, icc_profile=icc_profile),
            card=_encoded(card, image_format=image_format, icc_profile=icc_profile),
        )
    except ValidationError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        # Pillow's words for a damaged file ("image file is truncated", "broken PNG file").
        raise _not_accepted(data[:16]) from None


def lead_image_names(*, article: Article) -> list[str]:
    """The stored files of an article's lead image (none without one)."""
    return [name for name in (article.lead_image.name, article.lead_image_card.name) if name]


def lead_image_files_forget(*, names: list[str]) -> None:
    """Delete files no version of a page shows any more, once the change that dropped them is
    committed (a rolled-back save keeps showing them)."""
    if not names:
        return
    storage = Article._meta.get_field("lead_image").storage

    def delete() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete)


def lead_image_attach(*, article: Article, image: LeadImage) -> None:
    """Store the renditions as the article's lead image, replacing any earlier one, whose
    files go once this is committed. The caller saves the article (the admin saves it with
    the rest of the form), which gives it a new version for the cached cards and page."""
    old = lead_image_names(article=article)
    # A random name: the upload's own file name can say more than the picture should.
    stem = secrets.token_hex(10)
    article.lead_image.save(
        f"{stem}.{image.extension}", ContentFile(image.large.content), save=False
    )
    article.lead_image_card.save(
        f"{stem}-card.{image.extension}", ContentFile(image.card.content), save=False
    )
    article.lead_image_width, article.lead_image_height = image.large.width, image.large.height
    article.lead_image_card_width = image.card.width
    article.lead_image_card_height = image.card.height
    lead_image_files_forget(names=old)


def lead_image_detach(*, article: Article) -> list[str]:
    """Take the lead image off the article, with its alt text, caption and credit (the caller
    saves it). Returns its files' names, for lead_image_files_forget once it is saved."""
    names = lead_image_names(article=article)
    article.lead_image = article.lead_image_card = ""
    article.lead_image_width = article.lead_image_height = None
    article.lead_image_card_width = article.lead_image_card_height = None
    article.lead_image_alt = article.lead_image_caption = article.lead_image_credit = ""
    return names


# A file younger than this may belong to a save still in progress (written before its commit).
ORPHAN_GRACE = timedelta(hours=1)
LEAD_IMAGE_FOLDER = "lead-images"


def lead_images_orphaned_delete() -> int:
    """Delete stored lead-image files that no article points to any more: the files of a save
    that failed after they were written (the admin writes them before its transaction ends,
    and a rollback cannot unwrite a file), or of a delete whose clean-up did not run. Files
    younger than ORPHAN_GRACE are left for the save that may be writing them. Returns how many
    went; running it twice deletes nothing more."""
    storage = Article._meta.get_field("lead_image").storage
    if not storage.exists(LEAD_IMAGE_FOLDER):
        return 0
    _, files = storage.listdir(LEAD_IMAGE_FOLDER)
    names = {f"{LEAD_IMAGE_FOLDER}/{file}" for file in files}
    kept = set()
    pointing = Article.objects.filter(Q(lead_image__in=names) | Q(lead_image_card__in=names))
    for large, card in pointing.values_list("lead_image", "lead_image_card"):
        kept.update((large, card))
    before = timezone.now() - ORPHAN_GRACE
    deleted = 0
    for name in sorted(names - kept):
        if storage.get_modified_time(name) < before:
            storage.delete(name)
            deleted += 1
    return deleted


_TEXT_FIELDS = ("lead_image_alt", "lead_image_caption", "lead_image_credit")


@transaction.atomic
def article_lead_image_set(
    *, article: Article, upload, alt: str, caption: str = "", credit: str = ""
) -> Article:
    """Give an article a lead image from an uploaded file: checked, resized once and stored,
    with its alt text (required), caption and credit. Bad input raises ValidationError and
    changes nothing."""
    if not alt.strip():
        raise ValidationError({"lead_image_alt": LEAD_IMAGE_ALT_REQUIRED})
    prepared = lead_image_prepare(upload=upload)
    before = {name: getattr(article, name) for name in _TEXT_FIELDS}
    article.lead_image_alt, article.lead_image_caption = alt.strip(), caption.strip()
    article.lead_image_credit = credit.strip()
    try:
        # Everything else checked before any file is written.
        article.full_clean(exclude=["lead_image", "lead_image_card"])
    except ValidationError:
        for name, value in before.items():
            setattr(article, name, value)
        raise
    lead_image_attach(article=article, image=prepared)
    article.save()
    return article
