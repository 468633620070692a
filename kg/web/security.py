"""Headers every response carries so that a page can run no script it did not bring itself."""

# Scripts and styles only from this server's own files: no inline script, no inline style, no
# plugins, no <base> rewriting, no framing. JSON-LD blocks are data, not script, so CSP allows them.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}


def register(app):
    @app.after_request
    def secure(response):
        for name, value in HEADERS.items():
            response.headers[name] = value
        return response


def allow_cross_origin(blueprint, methods):
    """Let scripts on other sites call the blueprint's routes (open data services): CORS on every answer."""
    headers = {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Methods": methods,
        "Access-Control-Allow-Headers": "Accept, Content-Type",
        "Access-Control-Expose-Headers": "Results-Truncated, Content-Type, Vary",
        "Access-Control-Max-Age": "86400",
    }

    @blueprint.after_request
    def add_cors(response):
        response.headers.update(headers)
        return response
