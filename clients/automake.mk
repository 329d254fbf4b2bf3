# clients
