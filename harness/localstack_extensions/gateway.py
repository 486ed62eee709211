"""A twisted gateway that listens only on the host given in GATEWAY_LISTEN.

LocalStack 4.8.1's twisted server creates its IPv4 endpoint without an interface ("TODO: interface =
host?") and so listens on 0.0.0.0: anyone on the network could run code through Lambda. Selected with
``GATEWAY_SERVER=twisted-loopback``.
"""

from localstack.aws.serving.twisted import TLSMultiplexerFactory
from localstack.runtime.server.core import RuntimeServer, RuntimeServerPlugin
from localstack.runtime.server.twisted import TwistedRuntimeServer


class LoopbackTwistedRuntimeServer(TwistedRuntimeServer):
    def register(self, gateway, listen, ssl_creds=None) -> None:
        from rolo.serving.twisted import TwistedGateway
        from twisted.internet import endpoints, reactor, ssl

        site = TwistedGateway(gateway)
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
