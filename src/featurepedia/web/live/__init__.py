"""The Django side of live inference: which models and sources the database serves, and (later) the pages
that run a feature on your own text, search features by text and steer generation."""
