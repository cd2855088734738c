"""The demo site: `seed_demo` loads demo content and accounts and trains the first model."""
