"""Forms of the loans app, one module per capability; they clean and convert, services decide."""
