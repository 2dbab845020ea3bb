"""`python -m charnn` runs the command-line interface."""

from charnn.cli import main

if __name__ == "__main__":
    main()
