"""Browser privacy signals: Global Privacy Control (`Sec-GPC: 1`) and Do Not Track (`DNT: 1`);
and whether a request is the reader's own navigation on this site (fetch metadata), since only
that may count as a read."""

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class BrowserSignals:
    gpc: bool = False
    dnt: bool = False

    @property
    def present(self) -> bool:
        return self.gpc or self.dnt

    @classmethod
    def from_headers(cls, headers) -> "BrowserSignals":
        # Only the exact value "1" counts; anything else is treated as absent.
        return cls(
            gpc=headers.get("Sec-GPC", "").strip() == "1",
            dnt=headers.get("DNT", "").strip() == "1",
        )


NO_SIGNALS = BrowserSignals()


def signals_for(request) -> BrowserSignals:
    return getattr(request, "privacy_signals", None) or BrowserSignals.from_headers(request.headers)


# `same-origin`: a link or form on this site; `none`: typed into the address bar, a bookmark,
# a link opened from another application. `same-site` (a sibling subdomain) and `cross-site`
# are other sites' doing, and so is any value we do not know.
OWN_NAVIGATIONS = frozenset({"same-origin", "none"})


def navigation_is_own(request) -> bool:
    """Whether the reader themselves asked for this page on this site, rather than another
    site sending them here: only such a request may record a read, or any site could fill a
    reader's history and the popularity counts with a link or a redirect.

    Every current browser sends `Sec-Fetch-Site` on navigations (Chrome and Edge since 2019,
    Firefox since 2021, Safari since 16.4, 2023) and a page cannot remove or forge it. Without
    it (an older browser), a `Referer` naming another origin shows the navigation came from
    another site; an absent `Referer` is what a typed address or a bookmark sends, so it counts
    as the reader's own. Decided so because refusing it would lose every typed or bookmarked
    read in those browsers, while the remaining gap is narrow: a hostile page must also hide
    its address (`rel=noreferrer`) from a browser that is years old, cannot hide it from a
    current one, and what it could add is a row in the reader's own history, which they see
    and can delete in the privacy center.
    """
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None:
        return fetch_site.strip().lower() in OWN_NAVIGATIONS
    referer = request.headers.get("Referer")
    if not referer:
        return True
    return _same_origin(referer, request)


def _same_origin(url: str, request) -> bool:
    try:
        parts = urlsplit(url)
        return (
            parts.scheme.lower() == request.scheme
            and parts.netloc.lower() == request.get_host().lower()
        )
    except ValueError:  # a malformed Referer (an unclosed IPv6 bracket, say) proves nothing
        return False
