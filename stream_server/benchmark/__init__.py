"""`deepfake-monitor benchmark`: the real-video benchmark, run through the product's own path
(decode, detection, tracking, quality gate, streaming model, rolling score, verdict and the server's
alert rule) over labelled clips, reported per family and per generator."""
