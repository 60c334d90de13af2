"""deepfake-monitor's analysis core: frames → faces → tracks → CNN-LSTM → rolling scores."""

__version__ = "0.1.0"
