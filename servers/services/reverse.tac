# The reverse-text service as a twistd application: twistd -n -y reverse.tac
# (the folder holding the servers package must be on PYTHONPATH).
from twisted.application import service

from servers.services import reverse_service

application = service.Application("reverse")
reverse_service().setServiceParent(application)
