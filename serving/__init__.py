"""FastAPI service for the champion topic and stance models: `python -m serving`."""
