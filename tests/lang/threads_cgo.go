// Built with threads.go by Go's own toolchain (gc), this file links the
// program with cgo: Go's runtime then makes its threads with
// pthread_create, and sets up its signal stacks and preemption signal
// (SIGURG) with its own system call instructions, as every cgo-built Go
// program does (os/user, net's resolver, any C library).
package main

// #include <stdlib.h>
import "C"

func init() {
	C.free(C.malloc(16))
}
