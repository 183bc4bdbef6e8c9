class HTTPError(Exception):
    """An expected failure of a request: answered as {"error": message} with `status`."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.message = message
        self.headers = headers
