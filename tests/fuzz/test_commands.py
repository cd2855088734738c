"""Every management command run with arbitrary arguments, in any order: a bad argument ends
in a CommandError with a readable message (never another exception), and changes nothing."""

import base64
import hashlib
import socket
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command, get_commands, load_command_class
from django.test import override_settings
from hypothesis import assume, example, given
from hypothesis import strategies as st

from privacy.crypto import decrypt_for_user, encrypt_for_user, master_key_fingerprint
from privacy.models import UserDataKey
from tests.factories import ReaderFactory

from .strategies import JUNK_TEXT, changed_tables, database_snapshot, fuzz_settings

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
COMMANDS = [
    "import_feed",
    "import_mind",
    "publish_due",
    "seed_demo",
    "aggregate_signals",
    "purge_expired",
    "rotate_master_key",
    "verify_consent_chains",
    "retrain",
    "rollback_model",
    "evaluate_recommender",
]
# Django's own options that end the run (--help, --version) or change the environment
# (--settings, --pythonpath) are not arguments a command interprets; --output would let a
# fuzzed run write over any file, and --synthetic with a fuzzed --readers could build
# millions of readers: both have their own tests.
NOT_FUZZED = {"-h", "--help", "--version", "--settings", "--pythonpath", "--output", "--synthetic"}


def flags_of(name: str) -> list[str]:
    parser = load_command_class(get_commands()[name], name).create_parser("manage.py", name)
    return sorted(
        {flag for action in parser._actions for flag in action.option_strings} - NOT_FUZZED
    )


# Values a person might type after a flag, or instead of one.
VALUES = st.one_of(
    JUNK_TEXT,
    st.sampled_from(
        [
            "2026-11-21",
            "2026-02-30",
            "21/11/2026",
            "0001-01-01",
            "9999-12-31",
            "1999-12-31",
            "-1",
            "0",
            "3",
            "99999999999999999999999",
            "1e3",
            "inf",
            "-inf",
            "nan",
            "--",
            "-",
            "/",
            "/nonexistent/feed.xml",
            "not a path\x00really",
            "n" * 300,
            "/tmp/" + "deep/" * 1000,
            "http://127.0.0.1/feed",
            "https://feeds.example/rss",
            "file:///etc/passwd",
            "ftp://example.org/feed",
            str(FIXTURES / "feeds"),
            str(FIXTURES / "mind" / "news.tsv"),
            str(FIXTURES / "mind_tiny"),
            str(FIXTURES / "feeds" / "rss.xml"),
            str(FIXTURES / "mind_tiny" / "README.md"),
            "article",
            "topic",
            "both",
        ]
    ),
)


@st.composite
def arguments(draw, name: str) -> list[str]:
    """Flags, each usually followed by a value, and bare values, in any order."""
    flags = flags_of(name)
    pair = st.tuples(st.sampled_from(flags), VALUES).map(list) if flags else st.nothing()
    segment = st.one_of(
        pair, st.sampled_from(flags or ["--"]).map(lambda f: [f]), VALUES.map(lambda v: [v])
    )
    return [token for part in draw(st.lists(segment, max_size=4)) for token in part]


@pytest.fixture
def no_network(monkeypatch):
    """Name lookups fail and no socket connects, as offline: a fuzzed address is refused by
    the fetcher, never fetched."""

    def refuse(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def run(name: str, argv: list[str]) -> tuple[str, CommandError | None]:
    out, err = StringIO(), StringIO()
    try:
        call_command(name, *argv, stdout=out, stderr=err)
    except CommandError as error:
        return err.getvalue(), error
    return out.getvalue(), None


def assert_readable(error: CommandError, argv: list[str]) -> None:
    message = str(error)
    assert message.strip(), "a CommandError without a message"
    assert "Traceback" not in message
    # It may quote what was typed, but is otherwise a sentence or two, not a dump.
    assert len(message) < 600 + 2 * sum(len(a) for a in argv), message[:2000]


def _seed_demo_guard(argv: list[str], tmp_path: Path) -> list[str]:
    # The shipped demo folder would load 120 articles and train a model: a valid run that
    # has its own tests. An empty folder comes first; a later fuzzed --dir wins.
    return ["--dir", str(tmp_path), *argv]


@pytest.mark.parametrize("name", COMMANDS)
@fuzz_settings(15)
@given(data=st.data())
def test_bad_arguments_end_in_a_clear_message_and_change_nothing(
    name, data, rolled_back, no_network, tmp_path, monkeypatch
):
    # A fuzzed relative path ("", "article") resolves in an empty folder, not in whatever the
    # working folder holds on this machine (a package.json there once made seed_demo load it).
    monkeypatch.chdir(tmp_path)
    argv = data.draw(arguments(name))
    if name == "seed_demo":
        argv = _seed_demo_guard(argv, tmp_path)
    if name == "retrain":
        # A retrain with valid arguments trains (and records the attempt): fuzz the refusals.
        assume(set(argv) - {"--queue"} - set(flags_of("retrain")))
    with rolled_back():
        before = database_snapshot()
        output, error = run(name, argv)
        if error is not None:
            assert_readable(error, argv)
            assert changed_tables(before, database_snapshot()) == {}, (argv, str(error))
        else:
            # Accepted: the command ends with its one-line summary.
            assert output.strip(), argv


# A second master key, fixed so the run is repeatable.
NEW_MASTER_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"fuzz master key").digest()).decode()


@fuzz_settings(15)
@given(batch_size=st.one_of(st.integers(min_value=-(10**20), max_value=10**20).map(str), VALUES))
@example(batch_size=str(2**63))  # past PostgreSQL's LIMIT range: once a database error
@example(batch_size="0")
@example(batch_size="2")
def test_rotate_master_key_refuses_bad_batch_sizes_and_rotates_with_good_ones(
    rolled_back, batch_size
):
    old_key = django_settings.NEWSITE_MASTER_KEY
    with rolled_back():
        reader = ReaderFactory()
        sealed = encrypt_for_user(user=reader, plaintext="north", context="region")
        keys = [(pk, key_id, bytes(key)) for pk, key_id, key in UserDataKey.objects.values_list(
            "pk", "master_key_id", "wrapped_key"
        )]  # fmt: skip
        with override_settings(
            NEWSITE_MASTER_KEY=NEW_MASTER_KEY, NEWSITE_OLD_MASTER_KEYS=[old_key]
        ):
            output, error = run("rotate_master_key", ["--batch-size", batch_size])
            fingerprint = master_key_fingerprint()
        if error is not None:
            assert_readable(error, [batch_size])
            after = UserDataKey.objects.values_list("pk", "master_key_id", "wrapped_key")
            assert [(pk, key_id, bytes(key)) for pk, key_id, key in after] == keys
        else:
            # It worked: every key re-wrapped under the new master key, and the data opens
            # with the new key alone.
            assert f"under master key {fingerprint}" in output
            assert set(UserDataKey.objects.values_list("master_key_id", flat=True)) == {fingerprint}
            with override_settings(NEWSITE_MASTER_KEY=NEW_MASTER_KEY, NEWSITE_OLD_MASTER_KEYS=[]):
                opened = decrypt_for_user(user_id=reader.pk, ciphertext=sealed, context="region")
            assert opened == "north"


@fuzz_settings(15)
@given(
    old_keys=st.lists(JUNK_TEXT, min_size=1, max_size=2), current=st.one_of(st.none(), JUNK_TEXT)
)
def test_rotate_master_key_with_malformed_keys_in_settings_changes_nothing(
    rolled_back, old_keys, current
):
    with rolled_back():
        encrypt_for_user(user=ReaderFactory(), plaintext="x", context="region")
        before = list(UserDataKey.objects.values_list("pk", "master_key_id", "wrapped_key"))
        keys = {"NEWSITE_OLD_MASTER_KEYS": old_keys}
        if current is not None:
            keys["NEWSITE_MASTER_KEY"] = current
        with override_settings(**keys):
            output, error = run("rotate_master_key", [])
        if error is None:
            # Only possible when the junk happened to leave the current key in place.
            assert "Re-wrapped 0 data keys" in output
        else:
            assert_readable(error, [*old_keys, current or ""])
        assert list(UserDataKey.objects.values_list("pk", "master_key_id", "wrapped_key")) == (
            before
        )


# Paths the system cannot even look up or open; each once ended a command with an OSError or
# ValueError traceback.
UNOPENABLE = ["n" * 300, "a\x00b", "EMPTY_FOLDER", "/nonexistent/file"]


@pytest.mark.parametrize("path", UNOPENABLE, ids=["too-long", "nul-byte", "folder", "missing"])
@pytest.mark.parametrize(
    "argv",
    [["import_feed"], ["import_mind"], ["seed_demo", "--dir"], ["evaluate_recommender", "--mind"]],
    ids=lambda argv: argv[0],
)
def test_a_path_that_cannot_be_opened_is_refused_by_name(argv, path, tmp_path):
    path = str(tmp_path) if path == "EMPTY_FOLDER" else path
    before = database_snapshot()
    with pytest.raises(CommandError) as refused:
        call_command(*argv, path, stdout=StringIO(), stderr=StringIO())
    message = str(refused.value)
    assert path[:40] in message  # names what was given
    assert any(
        reason in message
        for reason in (
            "Cannot read",
            "neither a readable file",
            "not a folder",
            "has no news.tsv",
            "No demo content",
        )
    ), message
    assert changed_tables(before, database_snapshot()) == {}
