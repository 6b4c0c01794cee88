// The floating-point mode of a thread: whether denormal floats (magnitude below 2^-126, about
// 1.2e-38) are flushed to zero.
//
// Why dlrun flushes them: on x86 an operation with a denormal input or result takes a microcode
// assist of about a hundred cycles. Adam's first moment of a weight whose gradient stays zero (the
// inputs of a dead ReLU unit) decays by 0.9 a step into the denormals, and stays there: 0.9 times
// the smallest denormal rounds back to it. From the second epoch on, seed_cnn's training step took
// 1.6-1.9x as long as in the first (11.5 against 5.5 s per epoch on one thread). TensorFlow flushes
// denormals on CPU for the same reason. Values that small are zero for training; normal floats are
// computed exactly as before.
#pragma once

namespace dlrun {

// The calling thread's mode, as an opaque value for set_float_mode.
unsigned float_mode();
void set_float_mode(unsigned mode);

// Sets the calling thread to flush denormal results to zero and to read denormal inputs as zero
// (SSE's FTZ and DAZ bits). Threads that dlrun's pool and run_tasks start take the mode of the
// thread that hands them work, so a computation's result does not depend on which thread ran it.
// A no-op on CPUs other than x86-64.
void flush_denormals_to_zero();

}  // namespace dlrun
