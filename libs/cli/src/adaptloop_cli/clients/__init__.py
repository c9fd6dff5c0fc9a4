"""Small typed HTTP clients, one per service API."""
