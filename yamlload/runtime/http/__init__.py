"""The runtime's HTTP: building a request from the plan, sending it over a transport
(transport.py is the seam; aiohttp_transport.py the one in use), recording and checking
what came back."""
