"""``python -m toychat.relay --help``: run the classroom relay."""

from .app import main

if __name__ == "__main__":
    main()
