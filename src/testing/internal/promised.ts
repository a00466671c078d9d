/**
 * The Promise face of a service of Effects, for tests written in plain async code (`AuthServer.start`,
 * `TestGrant.start`): each `Effect` member becomes a function returning a Promise, each function
 * returning an `Effect` a function returning a Promise, everything else stays.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

/**
 * A service with its Effects as Promises.
 *
 * @internal
 */
export type Promised<S> = {
  readonly [K in keyof S]: S[K] extends Effect.Effect<infer A, infer _E, infer _R> ? () => Promise<A>
    : S[K] extends (...args: infer P) => Effect.Effect<infer A, infer _E, infer _R> ? (...args: P) => Promise<A>
    : S[K]
}

/**
 * Runs an effect that needs nothing; rejects with its error, or with an `Error` for a defect (not a
 * `FiberFailure` wrapping it).
 *
 * @internal
 */
export const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    const error = Cause.squash(exit.cause)
    throw error instanceof Error ? error : new Error(String(error), { cause: error })
  })

/** @internal */
export const promised = <S extends object>(service: S): Promised<S> => {
  // the services' Effects need nothing from the context (their requirements are `never`)
  const runAny = (effect: Effect.Effect<unknown, unknown, unknown>) => run(effect as Effect.Effect<unknown, unknown>)
  const out: Record<string, unknown> = {}
  for (const [name, member] of Object.entries(service)) {
    out[name] = Effect.isEffect(member)
      ? () => runAny(member)
      : typeof member === "function"
      ? (...args: ReadonlyArray<unknown>) => {
        const result: unknown = member(...args)
        return Effect.isEffect(result) ? runAny(result) : result
      }
      : member
  }
  return out as Promised<S>
}
