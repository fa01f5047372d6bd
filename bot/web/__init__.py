"""The admin console and every HTTP endpoint, served by one aiohttp application."""
