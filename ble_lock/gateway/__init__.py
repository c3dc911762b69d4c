"""Many locks from one process: config, event stream, trackers, process entry."""
