package client

// StartAMQP is the embedded AMQP 1.0 broker of the tests, for the end-to-end tests of
// package client_test.
var StartAMQP = startAMQP
