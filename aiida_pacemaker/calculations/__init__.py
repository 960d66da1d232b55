"""CalcJobs and calcfunctions of the plugin."""
