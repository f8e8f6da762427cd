"""The bus clients, copied from the services' template (``strangler/scaffold/template/events/``: the monolith
shares no code with the services, and knows nothing of the toolkit); a test keeps the copies equal."""
