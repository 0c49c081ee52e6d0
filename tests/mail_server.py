"""A real SMTP server on a free loopback port (aiosmtpd), keeping what it receives."""

import email
import email.policy
import re
import socket
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

WAIT_S = 10
LINK = re.compile(r"https?://\S+")


class Inbox:
    """What the server received, as parsed messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        """Keep the message; aiosmtpd calls this for each one."""
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.SMTP))
        return "250 Message accepted for delivery"

    def wait_for(self, to: str) -> EmailMessage:
        """The first message to `to`, waiting for it to arrive."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for message in self.messages:
                if message["To"] == to:
                    return message
            time.sleep(0.05)
        raise AssertionError(f"No mail to {to}; received: {[m['To'] for m in self.messages]}")

    def link_in(self, to: str) -> str:
        """The link in the first message to `to`."""
        return LINK.search(self.wait_for(to).get_content()).group(0)


@pytest.fixture
def smtp_server(app, monkeypatch):
    """An SMTP server the test app mails through; yields its inbox."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", port)
    yield inbox
    controller.stop()
