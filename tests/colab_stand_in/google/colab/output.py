"""A stand-in for google.colab.output: turning on third-party widgets leaves a note for the test instead."""

import os
from pathlib import Path


def enable_custom_widget_manager() -> None:
    """Append a line to the file named by COLAB_STAND_IN_LOG (where set), so a test can see the call."""
    log = os.environ.get("COLAB_STAND_IN_LOG")
    if log:
        with Path(log).open("a") as file:
            file.write("enable_custom_widget_manager\n")
