"""The web UI's files: a single-page app of plain ES modules in static/, served by runtree.server.ui."""
