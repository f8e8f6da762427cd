"""The client side of HTTP/1.1, before any request reaches the application: uvicorn's httptools protocol with
the router's limits on request heads (``protocol``, ``limits``), the response cycle that writes a held head
with its body (``cycle``), and the refusals counted and logged like every other answer (``refusals``).
"""
