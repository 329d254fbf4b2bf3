# daemon: checkpoints
