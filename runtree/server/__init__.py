"""`runtree server`: the stateless HTTP API over a Store (app), its API keys (auth) and its launcher (serve)."""
