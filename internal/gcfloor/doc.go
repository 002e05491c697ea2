// Package gcfloor keeps the Go garbage collector from collecting a heap smaller than a
// floor (issue 12).
//
// While a backlog drains, intake allocates a few hundred kilobytes per mail (the fetched
// literal, the parse, the register's records, the acknowledgement it builds) but keeps
// only a few megabytes alive. The runtime's default (GOGC=100) starts the next
// collection when the heap has grown by as much as is alive, and at 4 MB at the least:
// in the 2,000-mail drain that was 15 collections a second, each with two
// stop-the-world pauses of up to 2.7 ms and a quarter of the processors marking, on a
// machine where the acknowledgements wait for the CPU (BENCHMARKS.md, "A floor under the
// heap").
//
// Start sets GOGC after every collection so that the next one starts when the heap
// reaches the floor or the growth GOGC had asked for, whichever is larger. A heap that
// stays small costs at most the floor in memory; a large one is collected as before.
// GOMEMLIMIT, where set, still caps the whole (runtime/debug.SetMemoryLimit). An admin
// who sets GOGC in the environment keeps it: the daemon then does not call Start.
//
// The runtime has no floor of its own (the minimum heap is 4 MB times GOGC/100, fixed), a
// memory limit is a ceiling, and a ballast allocation would raise the goal of a large
// heap too; hence this small loop over runtime.AddCleanup and runtime/metrics.
package gcfloor
