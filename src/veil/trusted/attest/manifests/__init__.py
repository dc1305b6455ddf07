"""Templates for running Veil inside TEEs (Gramine manifests); data, not code."""
