"""``python -m grader ...``: the same command line as the ``grader`` script."""

from .cli import entry

if __name__ == "__main__":
    entry()
