"""Ground truth: the tables dbsync2 must hold (from the simulator) and a comparer for them."""
