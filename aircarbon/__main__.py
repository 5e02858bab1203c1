"""``python -m aircarbon``: the same entry point as the ``aircarbon`` console script."""

from aircarbon.cli import main

if __name__ == "__main__":
    main()
