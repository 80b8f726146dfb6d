"""quiet_http.py: the threaded HTTP server the Python test servers share.

surge's engine closes its connections with a reset (SO_LINGER 0, docs/worker.md), so a
peer reset is routine for these servers, not an error worth a traceback; anything else
is still printed.
"""
import sys
from http.server import ThreadingHTTPServer


class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)
