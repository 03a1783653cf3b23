package main

import "github.com/spf13/cobra"

// benchCommand returns the `messager bench` command once the load tool is
// compiled in (bench.go), else nil.
var benchCommand = func() *cobra.Command { return nil }
