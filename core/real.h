// real: the scalar type of core. float in ratlip itself; double in the ratlip_core_f64 build that the
// finite-difference tests link (compiled with -DRATLIP_F64), so a backward is checked against central
// differences in double precision, not against float round-off. Math goes through <tgmath.h>, so
// exp/sqrt/tanh pick the precision of their argument.
#pragma once
#include <tgmath.h>
// <tgmath.h> pulls in <complex.h>, whose macro I would swallow parameters named I (LSTM input size)
#undef I
#ifdef RATLIP_F64
typedef double real;
#else
typedef float real;
#endif
