"""A load run: its settings, Locust shapes, fault injection around it, and the run itself."""
