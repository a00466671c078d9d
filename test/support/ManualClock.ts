import { Clock, Duration, Effect } from "effect"

/**
 * A Clock whose time moves only when the test says so, with no timers: for soak tests that step through
 * weeks of simulated time faster than `TestClock.adjust` (which yields to the event loop at every step).
 * It cannot sleep: a test using it must not reach a retry backoff or a latency.
 */
export const make = (startMillis = 0) => {
  let now = startMillis
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => now,
    unsafeCurrentTimeNanos: () => BigInt(now) * 1_000_000n,
    currentTimeMillis: Effect.sync(() => now),
    currentTimeNanos: Effect.sync(() => BigInt(now) * 1_000_000n),
    sleep: () => Effect.dieMessage("ManualClock cannot sleep")
  }
  return {
    clock,
    advance: (duration: Duration.DurationInput) =>
      Effect.sync(() => {
        now += Duration.toMillis(duration)
      })
  }
}
