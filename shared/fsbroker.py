"""The embedded suite's filesystem broker: kombu's filesystem transport with atomic
writes.

kombu's transport creates a message file and then writes into it, while a consumer may
already be reading it: an empty read fails as invalid JSON and stops the worker (kombu
issue #1551). Here a message is written under a temporary name that consumers ignore and
renamed into place, so a consumer sees a whole message or none.
"""
from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

SCHEME = "nwsfs"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".partial"  # no ".<queue>.msg" ending: consumers skip it
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
    driver_type = driver_name = SCHEME


def register() -> None:
    TRANSPORT_ALIASES.setdefault(SCHEME, "shared.fsbroker:Transport")


def broker_url(url: str) -> str:
    """``filesystem://…`` served by this transport."""
    if url.startswith("filesystem://"):
        register()
        return SCHEME + url[len("filesystem"):]
    return url
