"""What tests/test_hub.py needs to run a class on a real JupyterHub: the class's environment, Unix users, the hub
and its REST API, kernels and terminals driven over websockets as a browser drives them."""
