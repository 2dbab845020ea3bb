"""Using a trained model: sampling, the fast CPU sampling step, and evaluation."""
