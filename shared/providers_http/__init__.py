"""Small HTTP clients for the providers DocFlow talks to (Microsoft Graph, Google APIs), over
the caller's aiohttp session and the base URLs of a connection, so tests can point them at
local servers that behave like the documented APIs."""
