"""The embedded broker never hands out a half-written message."""
import queue as stdlib_queue
import threading
import time

from kombu import Connection

from shared import fsbroker


def test_a_consumer_racing_a_producer_only_ever_sees_whole_messages(tmp_path):
    folder = tmp_path / "q"
    folder.mkdir()
    opts = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
    url = fsbroker.broker_url("filesystem://localhost/")
    assert url.startswith("nwsfs://")
    total = 400
    received, errors = [], []

    def produce():
        with Connection(url, transport_options=opts) as conn:
            q = conn.SimpleQueue("race")
            for i in range(total):
                q.put({"n": i, "pad": "x" * 2000})

    def consume():
        with Connection(url, transport_options=opts) as conn:
            q = conn.SimpleQueue("race")
            # A pause (a slow fsync on a busy disk) is not what is tested here; only a
            # message that cannot be read whole is an error.
            deadline = time.monotonic() + 120
            while len(received) < total and time.monotonic() < deadline:
                try:
                    msg = q.get(timeout=1)
                except stdlib_queue.Empty:
                    continue
                except Exception as exc:  # noqa: BLE001
                    errors.append(exc)
                    return
                received.append(msg.payload["n"])
                msg.ack()

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    assert errors == []
    assert sorted(received) == list(range(total))
    assert not list(folder.glob("*.partial"))
