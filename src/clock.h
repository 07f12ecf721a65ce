/*
 * clock: the monotonic clock every timeout, back-off, cache age and
 * request duration is measured with (never the wall clock, which can jump).
 */
#ifndef STOCKADE_CLOCK_H
#define STOCKADE_CLOCK_H

#include <stdint.h>

/* Monotonic milliseconds and microseconds since an arbitrary start. */
int64_t clock_ms(void);
int64_t clock_us(void);

#endif
