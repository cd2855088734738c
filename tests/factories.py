"""factory_boy factories for every model the tests build."""

from datetime import timedelta

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import User
from news.models import Article, Source, Topic
from news.permissions import EDITORS_GROUP

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
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"reader{n}@example.org")
    display_name = factory.Sequence(lambda n: f"Reader {n}")
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def saved(self, create, extracted, **kwargs):
        if create:
            self.save()


class EditorFactory(ReaderFactory):
    email = factory.Sequence(lambda n: f"editor{n}@example.org")
    is_staff = True

    @factory.post_generation
    def editors_group(self, create, extracted, **kwargs):
        if create:
            self.groups.add(Group.objects.get(name=EDITORS_GROUP))


class AdminFactory(ReaderFactory):
    email = factory.Sequence(lambda n: f"admin{n}@example.org")
    is_staff = True
    is_superuser = True


def verified_reader(**kwargs) -> User:
    """A reader whose email address is verified, so they can sign in through the login form."""
    from allauth.account.models import EmailAddress

    user = ReaderFactory(**kwargs)
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


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
