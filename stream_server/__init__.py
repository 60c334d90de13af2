"""The live server: many sources (WebRTC calls, RTSP cameras, uploads) → one shared analyzer → WebSocket + SQLite."""
