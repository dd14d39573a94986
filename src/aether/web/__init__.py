"""HTTP edge: the aiohttp application, the player page and its static files."""
