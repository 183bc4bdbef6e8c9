class KBError(Exception):
    """An expected failure with a message that tells the user what to do.

    The CLI prints it without a traceback and exits with status 1.
    """
