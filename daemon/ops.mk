# daemon: metrics and reload
