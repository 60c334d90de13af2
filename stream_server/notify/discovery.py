"""Home Assistant MQTT discovery: per stream, a "deepfake suspected" binary sensor and a probability sensor.

Home Assistant reads retained JSON configs under `<prefix>/<component>/<node>/<object>/config`; an
empty retained payload on the same topic removes the entity again (done when a stream is removed).
"""

from __future__ import annotations

import json

from detector import __version__
from stream_server.notify.topics import Topics


def discovery_configs(topics: Topics, prefix: str, stream_id: str, name: str) -> dict[str, str]:
    """Topic → retained JSON config for the stream's two entities."""
    node = f"{topics.prefix}_{stream_id.replace('-', '_')}"
    device = {
        "identifiers": [node],
        "name": f"Deepfake monitor: {name}",
        "manufacturer": "deepfake-monitor",
        "sw_version": __version__,
    }
    common = {"availability_topic": topics.availability, "device": device}
    suspected = {
        **common,
        "name": "Deepfake suspected",
        "unique_id": f"{node}_suspected",
        "state_topic": topics.alert(stream_id),
        # `active` counts the stream's open alerts: one face's alert ending leaves another's standing.
        "value_template": "{{ 'ON' if value_json.active > 0 else 'OFF' }}",
        "device_class": "problem",
    }
    probability = {
        **common,
        "name": "Highest fake probability",
        "unique_id": f"{node}_fake_probability",
        "state_topic": topics.score(stream_id),
        "value_template": "{{ value_json.score if value_json.score is not none else 'unknown' }}",
        "state_class": "measurement",
    }
    return {
        f"{prefix}/binary_sensor/{node}/suspected/config": json.dumps(suspected),
        f"{prefix}/sensor/{node}/fake_probability/config": json.dumps(probability),
    }
