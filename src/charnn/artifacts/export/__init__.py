"""A trained model as a file that runs without charnn: TorchScript and ONNX."""
