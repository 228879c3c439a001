// `--nproc-per-node N`: torchrun's local launch without Python. Starts N copies of this very command
// line with RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT set (a free
// port on 127.0.0.1 unless MASTER_ADDR/MASTER_PORT are given) and OMP_NUM_THREADS = cores / N
// (unless set), then waits for them.
#pragma once

namespace ft::distributed {

// A TCP port on 127.0.0.1 that is free now (the kernel's pick; rank 0's store binds it next).
int free_port();

// Returns when every worker exited 0. When one fails (non-zero exit or a signal), the others get
// SIGTERM (SIGKILL 10 s later) and an ft::Error names the rank that failed first. Workers die with
// the launcher (PR_SET_PDEATHSIG).
void launch_local_workers(int nproc);

}  // namespace ft::distributed
