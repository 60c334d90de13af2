"""Model stage: the CNN-LSTM network, per-track recurrent state and the registry of named models."""
