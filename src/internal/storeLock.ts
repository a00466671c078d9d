/**
 * A lock of the 0.1 store contract, `withLock(key, effect)`, as a scoped acquisition: `withLock` runs
 * in a fiber of its own around an effect that signals that the lock is held, then waits until the
 * scope closes.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TokenError from "../TokenError.js"

/** @internal */
export type WithLock = <A, E, R>(
  key: string,
  effect: Effect.Effect<A, E, R>
) => Effect.Effect<A, E | TokenError.StoreError, R>

/** What kind of defect it was, without its message (which could quote anything). */
export const describeDefect = (defect: unknown): string => defect instanceof Error ? defect.name : typeof defect

/** @internal */
export const fromWithLock = (
  key: string,
  withLock: WithLock
): Effect.Effect<void, TokenError.StoreError, Scope.Scope> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const held = yield* Deferred.make<void>()
      const done = yield* Deferred.make<void>()
      // its exit is its value: its failures are ours to report, not the runtime's
      const holder = yield* Effect.forkDaemon(
        Effect.exit(withLock(key, Effect.zipRight(Deferred.succeed(held, undefined), Deferred.await(done))))
      )
      const ended = Effect.flatMap(Fiber.join(holder), (exit) =>
        Exit.isFailure(exit) ? exit : Effect.fail(
          new TokenError.StoreError({ key, operation: "lock", reason: "the store's withLock did not run its effect" })
        ))
      const acquired = yield* Effect.exit(restore(Effect.raceFirst(Deferred.await(held), ended)))
      if (Exit.isFailure(acquired)) {
        yield* Fiber.interrupt(holder)
        return yield* acquired
      }
      yield* Effect.addFinalizer(() =>
        Deferred.succeed(done, undefined).pipe(
          Effect.zipRight(Fiber.join(holder)),
          Effect.flatMap((exit) => {
            if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return Effect.void
            const failure = Cause.failureOption(exit.cause)
            return Effect.logWarning(
              Option.isSome(failure)
                ? `${failure.value.message} (giving the lock back)`
                : `token store lock failed unexpectedly when given back (${describeDefect(Cause.squash(exit.cause))})`
            )
          })
        )
      )
    })
  )

/**
 * `effect`'s acquisitions, all or nothing: what it took in the scope is given back at once when it
 * fails or is interrupted (not when the scope closes), and with the scope when it succeeds.
 *
 * @internal
 */
export const allOrNothing = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | Scope.Scope> =>
  Effect.flatMap(
    Effect.scope,
    (outer) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          Scope.fork(outer, ExecutionStrategy.sequential),
          (inner) =>
            restore(Scope.extend(effect, inner)).pipe(
              Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(inner, exit) : Effect.void)
            )
        )
      )
  )
