"""Word-level differences between two texts: what changed in the policy, or in one purpose's
notice, shown on the policy page and the re-consent form and summed up in the policy-change
email. Pure functions of text: the templates escape what they show."""

import difflib
from dataclasses import dataclass

SAME, REMOVED, ADDED = "same", "removed", "added"
# A shared word or two between two changes ("the", "and") is shown as part of the change:
# marking it unchanged cuts one rewording into confetti that is harder to read.
LONELY_SAME_WORDS = 2
# Words of unchanged text kept on each side of a change in its summary.
CONTEXT_WORDS = 4
# Two paragraphs this alike (difflib's ratio of their words) are one paragraph reworded.
SAME_PARAGRAPH_RATIO = 0.5


@dataclass(frozen=True)
class DiffPiece:
    kind: str  # SAME, REMOVED or ADDED
    text: str


@dataclass(frozen=True)
class Rewording:
    """One change in plain text, with a few unchanged words around it: `before` as it was
    (empty for words only added), `after` as it is now (empty for words only removed)."""

    before: str
    after: str


def _hunks(old: list[str], new: list[str]) -> list[tuple[list[str], list[str], bool]]:
    """(old words, new words, changed) runs in reading order, with lonely shared words
    folded into the changes around them."""
    hunks: list[tuple[list[str], list[str], bool]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        hunks.append((old[a1:a2], new[b1:b2], op != "equal"))
    folded = True
    while folded:
        folded = False
        for i in range(1, len(hunks) - 1):
            before, same, after = hunks[i - 1], hunks[i], hunks[i + 1]
            if before[2] and after[2] and not same[2] and len(same[0]) <= LONELY_SAME_WORDS:
                merged = (before[0] + same[0] + after[0], before[1] + same[1] + after[1], True)
                hunks[i - 1 : i + 2] = [merged]
                folded = True
                break
    return hunks


def word_diff(before: str, after: str) -> list[DiffPiece]:
    """The words of `after` in reading order, with the words of `before` it dropped where
    they were: each run of unchanged, removed or added words is one piece."""
    pieces: list[DiffPiece] = []
    for old, new, changed in _hunks(before.split(), after.split()):
        if not changed:
            pieces.append(DiffPiece(SAME, " ".join(new)))
            continue
        if old:
            pieces.append(DiffPiece(REMOVED, " ".join(old)))
        if new:
            pieces.append(DiffPiece(ADDED, " ".join(new)))
    return pieces


def rewordings(before: str, after: str) -> list[Rewording]:
    """Each change between the two texts as a short before/after excerpt, for a summary."""
    hunks = _hunks(before.split(), after.split())
    found: list[Rewording] = []
    for i, (old, new, changed) in enumerate(hunks):
        if not changed:
            continue
        lead = hunks[i - 1][1] if i > 0 else []
        tail = hunks[i + 1][1] if i + 1 < len(hunks) else []
        found.append(Rewording(before=_excerpt(lead, old, tail), after=_excerpt(lead, new, tail)))
    return found


def _excerpt(lead: list[str], words: list[str], tail: list[str]) -> str:
    """The changed words between a few of the unchanged ones around them: words only added
    (or only removed) still show where they are."""
    text = " ".join(lead[-CONTEXT_WORDS:] + words + tail[:CONTEXT_WORDS])
    if not text:
        return ""
    starts_inside, ends_inside = len(lead) > CONTEXT_WORDS, len(tail) > CONTEXT_WORDS
    return ("…" if starts_inside else "") + text + ("…" if ends_inside else "")


def _similar(a: str, b: str) -> bool:
    matcher = difflib.SequenceMatcher(a=a.split(), b=b.split(), autojunk=False)
    return matcher.ratio() >= SAME_PARAGRAPH_RATIO


def _reworded_block(old: list[str], new: list[str]) -> list[list[DiffPiece]]:
    """Paragraphs replaced by others: a pair alike enough is one paragraph reworded (a word
    diff); the others were removed or added whole. The order of both texts is kept."""
    paragraphs: list[list[DiffPiece]] = []
    i = j = 0
    while i < len(old) and j < len(new):
        if _similar(old[i], new[j]):
            paragraphs.append(word_diff(old[i], new[j]))
            i, j = i + 1, j + 1
        elif j + 1 < len(new) and _similar(old[i], new[j + 1]):
            paragraphs.append([DiffPiece(ADDED, new[j])])
            j += 1
        else:
            paragraphs.append([DiffPiece(REMOVED, old[i])])
            i += 1
    paragraphs += [[DiffPiece(REMOVED, text)] for text in old[i:]]
    paragraphs += [[DiffPiece(ADDED, text)] for text in new[j:]]
    return paragraphs


def paragraphs_diff(before: list[str], after: list[str]) -> list[list[DiffPiece]]:
    """Two texts given as paragraphs, compared paragraph by paragraph and, within a
    paragraph that was reworded, word by word: one list of pieces per paragraph shown."""
    shown: list[list[DiffPiece]] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            shown += [[DiffPiece(SAME, text)] for text in after[b1:b2]]
        else:
            shown += _reworded_block(before[a1:a2], after[b1:b2])
    return shown


def has_changes(pieces: list[DiffPiece]) -> bool:
    return any(piece.kind != SAME for piece in pieces)
