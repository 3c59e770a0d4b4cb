"""Retraining: feedback pairs → fine-tune → evaluate old vs new → promote; the model registry."""
