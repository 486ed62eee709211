"""`make bench` (``benchmark.py``, its settings in ``config.py``) and `make profile` (``profile.py``)."""
