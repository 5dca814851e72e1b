"""Card-reader agent: reads Chinese ID cards on a staff device and posts them to the server."""
