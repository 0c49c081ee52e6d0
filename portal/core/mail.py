"""Sending mail through the SMTP server the settings name (`MAIL_SERVER`, ...).

With no server set (the embedded default) nothing is sent: the message is written to the log,
so a developer or an admin can still follow its link.
"""

import smtplib
import threading
from email.message import EmailMessage

from flask import current_app

SMTP_TIMEOUT_S = 10


def mail_configured() -> bool:
    """Whether an SMTP server is set."""
    return bool(current_app.config.get("MAIL_SERVER"))


def send_mail(to: str, subject: str, body: str) -> bool:
    """Send a plain-text message; False when no server is set and it went to the log instead."""
    config = current_app.config
    if not mail_configured():
        current_app.logger.warning(
            "No MAIL_SERVER set: mail to %s not sent.\nSubject: %s\n\n%s", to, subject, body
        )
        return False
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=SMTP_TIMEOUT_S) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)
    return True


def send_mail_later(to: str, subject: str, body: str) -> None:
    """Send from a thread, so the answer takes as long whether or not a mail goes out.

    A request that answers faster when no mail is sent tells its caller that the address has
    no account; a failure is logged, as the caller was answered already.
    """
    app = current_app._get_current_object()

    def send() -> None:
        with app.app_context():
            try:
                send_mail(to, subject, body)
            except (OSError, smtplib.SMTPException):
                app.logger.exception("Could not mail %r to %s", subject, to)

    threading.Thread(target=send, name="send-mail", daemon=True).start()
