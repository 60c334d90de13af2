"""Sources of frames: WebRTC calls, RTSP cameras and uploaded files, each behind `base.StreamSource`."""
