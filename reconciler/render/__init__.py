"""Renderers: pure functions from a Plan (or a drift report) to text, JSON or markdown."""
