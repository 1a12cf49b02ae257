package seccomp

import "sync"

// syscallTables returns the syscall tables (zsyscalls.go), built once.
var syscallTables = sync.OnceValue(newSyscallTables)
