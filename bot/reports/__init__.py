"""Group data reports: figures, SVG charts, exports, the daily summary."""
