// Package worknice puts intake's mail work below the clerks' requests in the kernel's
// scheduling order (issue 12, "clerks first").
//
// Linux schedules CPU time first between groups — a session's autogroup
// (sched(7), "The autogroup feature"), or the cgroup systemd or a container runtime gives
// a service — and only then between the threads of a group by their nice values. A nice
// value therefore only orders intake's threads against each other and against whatever
// else runs in intake's own group. That is where a clerk's lookup lost its time while a
// backlog drained: the thread that answers the clerk (web.request_nice) was woken at once,
// but the clerk's own client, when it ran in intake's group (a test harness or a shell
// that started intake), and the answering thread itself waited behind intake's parsing,
// indexing and sending, all at the same nice value 0.
//
// Apply lowers every thread of the process to work_nice (default 10) when the daemon
// starts — all at once with the world stopped (syscall.AllThreadsSyscall), so that no
// thread is created meanwhile; in a binary linked with cgo, which cannot do that, by walking
// /proc/self/task until three walks in a row lower nothing. Threads created later inherit it from the thread that creates them. (The Go
// runtime creates no thread from one that a goroutine has locked; a clerk's raised thread
// runs unlocked only for moments, and package web lowers whatever it cloned meanwhile.) The threads that answer clerks are raised from there to
// web.request_nice, so the gap between the two is what counts inside intake; against the
// other services of the machine, in their own groups, intake's share of the CPU does not
// change.
//
// Lowering a priority needs no right, raising it again does (setpriority(2): CAP_SYS_NICE
// or RLIMIT_NICE). So Apply first checks on a throwaway thread that the kernel lets the
// process raise a thread to web.request_nice, and changes nothing when it does not:
// clerks are never served below the nice value they had before.
package worknice
