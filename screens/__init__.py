"""Textual screens of Cutover Cockpit: they render engine snapshots, never engine state."""
