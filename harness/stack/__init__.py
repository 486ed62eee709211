"""Where the stack runs: embedded (a local LocalStack process); Docker Compose comes later."""
