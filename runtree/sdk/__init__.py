"""The training-side SDK: init -> Run -> log -> finish, with a background writer."""
