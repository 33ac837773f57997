"""Blueprints: each module here exposing `bp` is registered by the app factory."""
