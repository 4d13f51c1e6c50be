"""The embedded suite's filesystem broker: kombu's filesystem transport with atomic
writes.

kombu's transport creates a message file and then writes into it, while a consumer may
already be reading it: an empty read fails as invalid JSON and stops the worker (kombu
issue #1551). Here a message is written under a temporary name that consumers ignore and
renamed into place, so a consumer sees a whole message or none. The same holds for an
exchange's binding table, which kombu creates empty and then fills: a publisher reading it
in between failed the same way; here it is created whole (written aside, then linked into
place only if still absent).
"""
from __future__ import annotations

import os
import threading
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

SCHEME = "nwsfs"

# kombu records a binding in the per-process broker state before it writes the binding
# table; another channel of the same process then skips binding and may publish before the
# table exists, and the message has no queue. Binding and reading the table take turns.
_TABLES = threading.RLock()


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


    def queue_bind(self, *args, **kwargs):
        with _TABLES:
            return super().queue_bind(*args, **kwargs)

    def get_table(self, exchange):
        with _TABLES:
            return super().get_table(exchange)

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        if not file.exists():
            entry = [routing_key or "", pattern or "", queue or ""]
            partial = file.with_name(f"{file.name}.{uuid.uuid4().hex}.partial")
            partial.write_bytes(str_to_bytes(dumps([entry])))
            try:
                os.link(partial, file)   # fails if another channel created it meanwhile
                return
            except FileExistsError:
                pass                     # then add this binding to theirs, under kombu's lock
            except OSError as exc:
                raise ChannelError(f"Cannot create {file}") from exc
            finally:
                partial.unlink(missing_ok=True)
        super()._queue_bind(exchange, routing_key, pattern, queue)


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
