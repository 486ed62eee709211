import sys

from harness.bench.benchmark import main

sys.exit(main())
