// Command pause is the sandbox ("pause") process of the test cluster's pods: it holds the pod's
// namespaces and waits for SIGINT or SIGTERM. Built statically and packed into pause:3.10 by
// test/cluster/up, because no image can be pulled from a registry.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	<-c
}
