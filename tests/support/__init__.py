"""Test helpers: tiny OpenVINO models, synthetic videos, a fault-injecting HTTP server."""
