"""The user-facing jobs (check, grade, batch, generate, bundles), free of click."""
