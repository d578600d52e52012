"""Chapter 5's practice servers: one wiki, four ways to reach it.

======================  ==============================================  =====================================
catalogue name          what                                            module
======================  ==============================================  =====================================
``wiki``                REST: pages as resources, HTML and JSON         :mod:`servers.rpc.rest`
``xmlrpc``              XML-RPC at ``/RPC2`` (``twisted.web.xmlrpc``)   :mod:`servers.rpc.xmlrpc`
``soap``                SOAP 1.1 at ``/soap``, WSDL at ``/soap?wsdl``   :mod:`servers.rpc.soap`
``pb``                  Perspective Broker root object                  :mod:`servers.rpc.pb`
======================  ==============================================  =====================================

Each builder takes ``data=``, a :class:`~servers.rpc.data.WikiData`, so several services can share one wiki's
pages; by default each has its own, starting with ``WikiHome``. The probes are in :mod:`servers.rpc.probes`.
"""

from servers.rpc.data import HOME, HOME_TEXT, WikiData, WikiRefused

__all__ = ["HOME", "HOME_TEXT", "WikiData", "WikiRefused"]
