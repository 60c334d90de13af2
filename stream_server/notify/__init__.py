"""Notifications that leave the server: signed webhooks and MQTT (with Home Assistant discovery).

`dispatch.Notifier` turns the /ws messages the hub publishes into events (`alert_started`, ...) and
hands both to each publisher. Publishers only enqueue on the caller's thread; their own threads do the
network work, so a slow or dead target never reaches the analysis path.
"""
