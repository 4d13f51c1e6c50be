"""A real SMTP server (aiosmtpd) in a thread for notification tests: it keeps every
message it accepts, and can refuse a recipient a number of times first."""
from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """aiosmtpd handler: records accepted messages; ``refuse[address] = n`` answers
    451 (try again later) to that recipient n times."""

    def __init__(self):
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse: dict[str, int] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse.get(address, 0) > 0:
            self.refuse[address] -= 1
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


class SmtpServer:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.recorder = Recorder()
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.controller.stop()


def text_of(msg: EmailMessage) -> str:
    """The decoded text body (MIME transfer encoding and charset undone)."""
    return msg.get_body(preferencelist=("plain",)).get_content()
