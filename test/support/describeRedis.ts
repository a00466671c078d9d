/**
 * `describe` for tests that need `redis-server`: where it is not installed, the tests show as skipped,
 * with the reason in the title and on the console; under `CI=true` a missing `redis-server` is a failure.
 */
import { describe, it } from "@effect/vitest"
import { availability } from "./redisServer.js"

/** Whether tests run under CI, where a missing `redis-server` is a failure, not a skip. */
const underCi = process.env.CI === "true" || process.env.CI === "1"

/**
 * `describe` for tests that need `redis-server`: as it is when it is installed; else skipped with the
 * reason in its title and on the console (or, under `CI=true`, one failing test that says why).
 */
export const describeRedis = (name: string, body: () => void): void => {
  if (availability.available) {
    describe(name, body)
    return
  }
  const reason = availability.reason
  if (underCi) {
    describe(name, () => {
      it(`needs redis-server: ${reason}`, () => {
        throw new Error(`CI=true and ${reason}`)
      })
    })
  } else {
    console.warn(`[tokenlayer] skipping "${name}": ${reason}`)
    describe.skip(`${name} (skipped: ${reason})`, body)
  }
}
