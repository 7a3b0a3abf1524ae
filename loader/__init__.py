"""Loading converted TF.js graph models (model.json + weight shards) and running them on a Backend."""
