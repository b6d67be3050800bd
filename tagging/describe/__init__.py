"""Product descriptions grounded in facts and neighbours' listings (ModICT-style)."""
