"""factory_boy factories for every model the tests build."""

from datetime import timedelta

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from accounts.services import user_create
from news.models import Article, Source, Topic

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Topic {n}")
    slug = factory.Sequence(lambda n: f"topic-{n}")
    description = factory.LazyAttribute(lambda o: f"Stories about {o.name.lower()}.")


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    name = factory.Sequence(lambda n: f"Source {n}")
    kind = Source.Kind.MANUAL


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Story number {n}")
    slug = factory.Sequence(lambda n: f"story-{n}")
    summary = factory.LazyAttribute(lambda o: f"A short summary of {o.title.lower()}.")
    body = "First paragraph of the story.\n\nSecond paragraph with more detail."
    author = "Staff writer"
    status = Article.Status.PUBLISHED
    published_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))

    @factory.post_generation
    def topics(self, create, extracted, **kwargs):
        if create and extracted:
            self.topics.set(extracted)


class ReaderFactory(factory.django.DjangoModelFactory):
    """A reader created as the sign-up creates one (`accounts.services.user_create`): with
    their email address row, unverified unless `email_verified=True`."""

    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"reader{n}@example.org")
    display_name = factory.Sequence(lambda n: f"Reader {n}")
    password = DEFAULT_PASSWORD
    email_verified = False
    is_editor = False
    is_admin = False

    @classmethod
    def _create(cls, model_class, *, email, display_name, password, email_verified, **fields):
        user = user_create(
            email=email,
            password=password,
            display_name=display_name,
            is_editor=fields.pop("is_editor"),
            is_admin=fields.pop("is_admin"),
            email_verified=email_verified,
        )
        if fields:  # what the sign-up does not set (staff without the editors' group, inactive)
            for name, value in fields.items():
                setattr(user, name, value)
            user.save()
        return user


class EditorFactory(ReaderFactory):
    email = factory.Sequence(lambda n: f"editor{n}@example.org")
    is_editor = True


class AdminFactory(ReaderFactory):
    email = factory.Sequence(lambda n: f"admin{n}@example.org")
    is_admin = True


def verified_reader(**kwargs) -> User:
    """A reader whose email address is verified, so they can sign in through the login form."""
    return ReaderFactory(email_verified=True, **kwargs)


def reader_choices(
    user: User,
    *,
    level: str = "topics_history",
    counting: bool = False,
    source: str = "preferences",
    signals=None,
) -> User:
    """Give a reader a followed topic, a personalization level and, optionally, "count my
    reads toward popular", through the same services the pages use."""
    from accounts import services as accounts_services
    from privacy.browser_signals import NO_SIGNALS
    from privacy.purposes import POPULAR_COUNTING
    from privacy.services import consent_set

    signals = signals or NO_SIGNALS
    accounts_services.preferences_set_topics(user=user, topic_ids=[TopicFactory().pk])
    accounts_services.preferences_set_level(user=user, level=level, source=source, signals=signals)
    if counting:
        consent_set(
            user=user, purpose=POPULAR_COUNTING.key, granted=True, source=source, signals=signals
        )
    return user


def reader_with_data_everywhere(*, email: str, client=None) -> User:
    """A reader with rows in every registered category of personal data, and an export file
    in private storage: what an erasure must leave no trace of."""
    from allauth.account.models import EmailAddress, EmailConfirmation
    from allauth.mfa.models import Authenticator
    from django.contrib.admin.models import ADDITION, LogEntry
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    from accounts import services as accounts_services
    from privacy.browser_signals import NO_SIGNALS
    from privacy.exports import exports_root
    from privacy.models import ExportRequest
    from privacy.services import read_store

    user = ReaderFactory(email=email, display_name=f"Name of {email}", email_verified=True)
    address = EmailAddress.objects.get(user=user)
    EmailConfirmation.create(address)
    Authenticator.objects.create(
        user=user, type=Authenticator.Type.TOTP, data={"secret": "JBSWY3DPEHPK3PXP"}
    )
    user.groups.add(Group.objects.get_or_create(name="Newsletter testers")[0])
    user.user_permissions.add(Permission.objects.get(codename="view_topic"))
    reader_choices(user, counting=True)
    accounts_services.preferences_set_topics(
        user=user,
        topic_ids=list(user.preferences.preferred_topics.values_list("topic_id", flat=True)),
        blocked_ids=[TopicFactory().pk],
    )
    accounts_services.preferences_set_purposes(
        user=user,
        wanted={"popular_counting": True, "region": True},
        region=user.preferences.Region.choices[0][0],
        source="privacy_center",
        signals=NO_SIGNALS,
    )
    article = ArticleFactory()
    read_store(user_id=user.pk, article_id=article.pk, read_at=timezone.now().isoformat())
    # Their front page, kept (sealed) in the cache as a visit to the home page leaves it.
    from news.cards import feed_cards_html
    from recommendations.feed_cache import home_feed

    ArticleFactory(topics=[user.preferences.preferred_topics.first().topic])
    for page_number in (1, 2):
        # Page 2 is computed from the copy of their reads the first one left a token for.
        home_feed(
            user=user,
            page_number=page_number,
            render_cards=lambda page: feed_cards_html(items=page.object_list, user=user),
        )
    export = ExportRequest.objects.create(
        user=user, status=ExportRequest.Status.READY, file_name=f"{user.pk}-copy.zip"
    )
    exports_root().mkdir(parents=True, exist_ok=True)
    (exports_root() / export.file_name).write_text(f"data of {email}")
    accounts_services.api_token_issue(user=user)  # an app the reader authorised
    # Emailed about a policy version that changed a purpose they had on.
    from privacy.models import PolicyChangeEmail, PolicyVersion

    PolicyChangeEmail.objects.create(
        user=user,
        policy=PolicyVersion.objects.filter(published_at__isnull=False).first(),
        sent_at=timezone.now(),
    )
    # Asked the trust survey, and affected by an incident.
    from trust.models import Incident, IncidentNotice, SurveyAsk

    SurveyAsk.objects.create(user=user, asked_on=timezone.localdate())
    incident = Incident.objects.create(
        title="A lost backup",
        summary="A summary.",
        what_happened="What happened.",
        occurred_at=timezone.now(),
        discovered_at=timezone.now(),
    )
    IncidentNotice.objects.create(incident=incident, user=user)
    LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(Topic),
        object_id="1",
        object_repr="A topic",
        action_flag=ADDITION,
        change_message="",
    )
    if client is not None:
        client.force_login(user)  # a signed-in session
    return user
