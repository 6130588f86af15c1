#!/usr/bin/env python
import os
import sys

# Commands that sign nothing (no sessions, no tokens) run without a SECRET_KEY, e.g. the
# autoscaling simulator on a fresh clone.
NO_SECRET_COMMANDS = {"simulate_scaling", "help"}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command in NO_SECRET_COMMANDS and not os.environ.get("SECRET_KEY"):
        os.environ["SECRET_KEY"] = f"unused-by-{command}-which-signs-nothing"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
