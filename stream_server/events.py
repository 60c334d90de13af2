"""The server's alert rule is the detector's (`detector.events`): `analyze --report` applies the same one."""

from detector.events import AlertTracker as AlertTracker
from detector.events import new_alert_id as new_alert_id
