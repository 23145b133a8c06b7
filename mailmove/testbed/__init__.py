"""Real local services (DNS) that tests and the demo run against instead of fakes."""
