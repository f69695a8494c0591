"""The public API under /api/ (django-ninja): Neuronpedia-compatible routes and our own."""
