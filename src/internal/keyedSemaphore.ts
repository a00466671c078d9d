/**
 * One lock per key, within this process: what the memory store's lock is, and what comes before the
 * file store's lock file (so that the fibers of one process queue here instead of polling each other).
 *
 * A key's semaphore is made when first asked for and dropped when nobody holds it or waits for it, so
 * that a process that sees many keys over its life does not keep one semaphore per key forever.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/** @internal */
export interface KeyedSemaphore {
  /**
   * Takes the lock for `key`, waiting (interruptibly) while another fiber holds it; it is given back
   * when the scope closes. Interrupted while waiting, nothing is held.
   */
  readonly take: (key: string) => Effect.Effect<void, never, Scope.Scope>
}

interface Slot {
  readonly semaphore: Effect.Semaphore
  /** Fibers holding or waiting for it. */
  users: number
}

/** @internal */
export const make = (): KeyedSemaphore => {
  const slots = new Map<string, Slot>()
  const enter = (key: string): Slot => {
    let slot = slots.get(key)
    if (slot === undefined) {
      slot = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
      slots.set(key, slot)
    }
    slot.users++
    return slot
  }
  const leave = (key: string, slot: Slot): void => {
    if (--slot.users === 0 && slots.get(key) === slot) slots.delete(key)
  }
  return {
    take: (key) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          const slot = enter(key)
          return restore(slot.semaphore.take(1)).pipe(
            Effect.onInterrupt(() => Effect.sync(() => leave(key, slot))),
            Effect.zipRight(
              Effect.addFinalizer(() => Effect.zipRight(slot.semaphore.release(1), Effect.sync(() => leave(key, slot))))
            )
          )
        })
      )
  }
}
