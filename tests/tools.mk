# tests: minibatchctl and client
