"""A twisted gateway that listens only on the host given in GATEWAY_LISTEN.

LocalStack 4.8.1's twisted server creates its IPv4 endpoint without an interface ("TODO: interface =
host?") and so listens on 0.0.0.0: anyone on the network could run code through Lambda. Selected with
``GATEWAY_SERVER=twisted-loopback``.

Its requests also skip twisted's form parsing: twisted parses the content type of every POST with the
``email`` package to fill ``request.args`` from form bodies, which nothing reads: LocalStack's WSGI
application reads the body itself. Nor does the site format an access-log line per request: twisted's
log file is not one LocalStack writes out, and LocalStack logs each request itself (``localstack.request.aws``).
"""

from localstack.aws.serving.twisted import TLSMultiplexerFactory
from localstack.runtime.server.core import RuntimeServer, RuntimeServerPlugin
from localstack.runtime.server.twisted import TwistedRuntimeServer
from rolo.serving.twisted import TwistedGateway, TwistedRequestAdapter
from twisted.web.http import parse_qs


class FormlessRequest(TwistedRequestAdapter):
    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        """twisted's, without parsing POST bodies into ``args`` (the query string still is)."""
        self.content.seek(0, 0)
        self.method, self.uri, self.clientproto = command, path, version
        self.path, _, query = path.partition(b"?")
        self.args = parse_qs(query, 1) if query else {}
        self.process()


class QuietTwistedGateway(TwistedGateway):
    def log(self, request) -> None:
        """No access-log line: it went to twisted's log file, which nothing reads."""


class LoopbackTwistedRuntimeServer(TwistedRuntimeServer):
    def register(self, gateway, listen, ssl_creds=None) -> None:
        from twisted.internet import endpoints, reactor, ssl

        site = QuietTwistedGateway(gateway)
        site.requestFactory = FormlessRequest
        protocol_factory = site
        if ssl_creds:
            cert_file_name, key_file_name = ssl_creds
            context_factory = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
            context_factory.getContext().use_certificate_chain_file(cert_file_name)
            protocol_factory = TLSMultiplexerFactory(context_factory, False, site)

        for host_and_port in listen:
            endpoint_type = endpoints.TCP6ServerEndpoint if ":" in host_and_port.host else endpoints.TCP4ServerEndpoint
            endpoint = endpoint_type(reactor, host_and_port.port, interface=host_and_port.host)
            endpoint.listen(protocol_factory)


class LoopbackTwistedRuntimeServerPlugin(RuntimeServerPlugin):
    name = "twisted-loopback"

    def load(self, *args, **kwargs) -> RuntimeServer:
        return LoopbackTwistedRuntimeServer()
