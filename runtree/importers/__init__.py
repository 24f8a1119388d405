"""Bring runs made by other trackers into a runtree store (today: W&B offline run directories).

`wandb_log` reads the `.wandb` transaction log; `wandb_offline` turns its records into runtree runs.
This layer imports runtree.domain, runtree.store and runtree.errors only, never the sdk or the api.
"""
