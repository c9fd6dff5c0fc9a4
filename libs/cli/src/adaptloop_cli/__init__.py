"""The `adaptloop` command-line tool."""
