import { Clock, Duration, Effect } from "effect"

/**
 * A Clock whose time moves only when the test says so, with no timers: for soak tests that step through
 * weeks of simulated time faster than `TestClock.adjust` (which yields to the event loop at every step).
 * Its sleeps never end: a test using it must not wait on a retry backoff or a latency (timeouts raced
 * against work that completes, as the service's store and lock timeouts are, are fine).
 */
export const make = (startMillis = 0) => {
  let now = startMillis
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeMillis: Effect.sync(() => now),
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    // a sleep never ends: time moves only when the test says so, and this clock has no timers
    sleep: () => Effect.never
  }
  return {
    clock,
    advance: (duration: Duration.DurationInput) =>
      Effect.sync(() => {
        now += Duration.toMillis(duration)
      })
  }
}
