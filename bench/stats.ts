/**
 * Timing helpers for the benchmarks. Time is read here, in the bench, never in the library.
 */
import * as V8 from "node:v8"
import * as Vm from "node:vm"

export const now = (): number => performance.now()

export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export const min = (values: ReadonlyArray<number>): number => Math.min(...values)
export const max = (values: ReadonlyArray<number>): number => Math.max(...values)

const gc: (() => void) | undefined = (() => {
  try {
    V8.setFlagsFromString("--expose-gc")
    return Vm.runInNewContext("gc") as () => void
  } catch {
    return undefined
  }
})()

/**
 * A full garbage collection, so that the garbage of one measurement is not collected during the next
 * (a no-op where V8 will not expose `gc`).
 */
export const collectGarbage = (): void => gc?.()

/** Milliseconds an async thunk takes, from a collected heap. */
export const time = async (thunk: () => Promise<unknown>): Promise<number> => {
  collectGarbage()
  const start = now()
  await thunk()
  return now() - start
}

/**
 * Runs every thunk up to `reps` times, round-robin, rotating which goes first, so that drift in the
 * machine (other tenants, GC, JIT) falls on all of them alike. Stops after a full round once
 * `budgetMs` is spent, if `minReps` rounds are done (a loaded machine must not stretch the run past
 * its time limit). Returns the timings by name, in repetition order.
 */
export const roundRobin = async <K extends string>(
  reps: number,
  thunks: Readonly<Record<K, () => Promise<number>>>,
  options: { readonly minReps?: number; readonly budgetMs?: number } = {}
): Promise<Record<K, Array<number>>> => {
  const names = Object.keys(thunks) as Array<K>
  const out = {} as Record<K, Array<number>>
  for (const name of names) out[name] = []
  const start = now()
  for (let i = 0; i < reps; i++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(i + j) % names.length]!
      out[name].push(await thunks[name]())
    }
    if (i + 1 >= (options.minReps ?? reps) && now() - start > (options.budgetMs ?? Infinity)) break
  }
  return out
}

/** Per-repetition ratios `a[i] / b[i]`. */
export const ratios = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): Array<number> =>
  a.map((value, i) => value / b[i]!)

export type Bounded<A> = { readonly _tag: "Done"; readonly value: A } | { readonly _tag: "TimedOut" }

/** Waits for `promise` at most `ms` milliseconds (the timer does not keep the process alive). */
export const bounded = <A>(promise: Promise<A>, ms: number): Promise<Bounded<A>> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve({ _tag: "TimedOut" }), ms)
    timer.unref()
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve({ _tag: "Done", value })
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      }
    )
  })

/** Lets pending I/O callbacks and timers run (closed sockets, finished fibers) between measurements. */
export const settle = (ms = 20): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export const fmt = (value: number, digits = 1): string => Number.isFinite(value) ? value.toFixed(digits) : "n/a"
