"""Encoders: the encoder protocol, the PyTorch and ONNX Runtime encoders, the ONNX export,
tokenizer parity and the offline base models."""
