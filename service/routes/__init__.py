"""The HTTP API's resources, a Litestar Controller each; ``service.app`` assembles them."""
