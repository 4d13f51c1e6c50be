"""`nws db upgrade` is safe to run concurrently: on a fresh PostgreSQL database, several
upgrades started at once all succeed (one after the other, under an advisory lock) and
leave every service at its newest revision."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nws.runtime import ALL_SERVICES, definitions
from shared.migrate import is_current

pytestmark = pytest.mark.distributed

NWS = str(Path(sys.executable).with_name("nws"))


def test_concurrent_upgrades_of_a_fresh_database_all_succeed(pg_database, tmp_path):
    env = {**os.environ, "NWS_DATABASE_URL": pg_database, "NWS_SECRET_KEY": "m" * 48,
           "NWS_DATA_DIR": str(tmp_path), "NWS_BROKER_URL": "redis://127.0.0.1:6379/15"}
    procs = [subprocess.Popen([NWS, "db", "upgrade"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(3)]
    outputs = [p.communicate(timeout=180)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], "\n---\n".join(outputs)
    for d in definitions(ALL_SERVICES):
        assert is_current(d.name, d.migrations, pg_database), d.name
