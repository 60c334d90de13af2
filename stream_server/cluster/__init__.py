"""Several machines as one deployment: a gateway and workers that share a Redis (docs/cluster.md).

A transport beside the single-process hub, not a second server: workers run the same `Hub` with a
Redis outbox as its sink, and the gateway runs the same app with a reader that stores and broadcasts
what the workers send. Ownership of cameras is a Redis key with an expiry (a lease) per camera.
"""
