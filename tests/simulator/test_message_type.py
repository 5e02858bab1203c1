"""The simulator's messages are ingest's: one dataclass for a publication, no paho offline."""

from __future__ import annotations

import subprocess
import sys

from aircarbon.simulator.stream import SimMessage
from ingest.mqtt_publish import Message


def test_one_dataclass_serves_both() -> None:
    assert SimMessage is Message
    msg = Message("aircarbon/v1/SY-TY-01/readings", b"{}")
    assert (msg.kind, msg.station, msg.retain, msg.qos) == ("readings", "SY-TY-01", False, 1)
    assert Message("aircarbon/v1/forecast/warnings", b"", retain=True).kind == "warnings"
    assert Message("x", b"").station == ""


def test_generating_messages_does_not_import_paho() -> None:
    """Offline simulation (dry runs, tests landing a day) needs no MQTT client library."""
    code = (
        "import sys\n"
        "from aircarbon.simulator import iter_messages\n"
        "from aircarbon.simulator.config import SimulationConfig\n"
        "next(iter_messages(SimulationConfig(steps=2)))\n"
        "print(sorted(m for m in sys.modules if m.startswith('paho')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
