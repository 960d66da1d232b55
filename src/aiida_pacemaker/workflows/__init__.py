"""WorkChains of the plugin."""
