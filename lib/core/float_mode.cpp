#include "core/float_mode.hpp"

#if defined(__x86_64__) || defined(__SSE2__)
#include <xmmintrin.h>
#define DLRUN_HAVE_MXCSR 1
#endif

namespace dlrun {

#ifdef DLRUN_HAVE_MXCSR

// MXCSR's low six bits are sticky exception flags that arithmetic sets; the mode is the rest.
constexpr unsigned kControlBits = ~0x3Fu;

unsigned float_mode() {
  return _mm_getcsr() & kControlBits;
}

void set_float_mode(unsigned mode) {
  const unsigned current = _mm_getcsr();
  if ((current & kControlBits) != mode) _mm_setcsr((current & ~kControlBits) | mode);
}

void flush_denormals_to_zero() {
  constexpr unsigned kFlushToZero = 0x8000;     // MXCSR.FTZ: denormal results become 0
  constexpr unsigned kDenormalsAreZero = 0x40;  // MXCSR.DAZ: denormal inputs read as 0
  set_float_mode(float_mode() | kFlushToZero | kDenormalsAreZero);
}

#else

unsigned float_mode() {
  return 0;
}
void set_float_mode(unsigned /*mode*/) {}
void flush_denormals_to_zero() {}

#endif

}  // namespace dlrun
