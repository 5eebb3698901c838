"""Run pytest and refuse a run that collected no tests (pytest exit code 5)."""

import sys

import pytest

NO_TESTS_COLLECTED = 5

if __name__ == "__main__":
    code = pytest.main(sys.argv[1:])
    if code == NO_TESTS_COLLECTED:
        print("error: pytest collected no tests", file=sys.stderr)
        sys.exit(1)
    sys.exit(int(code))
