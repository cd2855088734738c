"""Mail servers as the outside world has them, for the tests of emails the site sends."""

from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend


class FlakyMailServer(BaseEmailBackend):
    """A mail server that refuses the first message it is given, then delivers (to the test
    outbox) as the site's usual one does. Set `refused = 0` before each use."""

    refused = 0

    def send_messages(self, email_messages):
        if FlakyMailServer.refused == 0:
            FlakyMailServer.refused += 1
            raise ConnectionRefusedError("mail server down")
        mail.outbox.extend(email_messages)
        return len(email_messages)
