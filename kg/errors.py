"""The few ways msc-kg refuses work, each with a message a person can act on."""


class KGError(Exception):
    """Base of every error msc-kg raises on purpose."""


class DataParseError(KGError):
    """An RDF file (or posted document) does not parse; names the file, line and column."""

    def __init__(self, source, message, line=None, column=None):
        self.source = str(source)
        self.line = line
        self.column = column
        self.reason = message
        where = self.source
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}")


class QueryError(KGError):
    """A SPARQL query is malformed or asks for something refused."""


class UsageError(KGError):
    """A command was called with arguments that do not fit."""


class RemoteUnavailable(KGError):
    """The SPARQL server behind a `sparql:` store refused the connection, failed, or answered nonsense.

    Not the client's fault and not ours to fix: the web answers 502 and the next request tries again.
    """

    status = 502


class RemoteTimeout(RemoteUnavailable):
    """The SPARQL server behind a `sparql:` store did not answer within the time allowed (504)."""

    status = 504
