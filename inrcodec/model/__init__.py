"""The shipped shared model of codec v2: its configuration, its weights and the registry that finds them."""
