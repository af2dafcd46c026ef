"""``python -m toychat.relay --help``: run the classroom relay."""

from .cli import main

if __name__ == "__main__":
    main()
