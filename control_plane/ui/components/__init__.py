"""Pieces shared by the dashboard pages."""
